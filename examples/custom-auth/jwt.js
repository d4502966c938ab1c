import { createHmac, timingSafeEqual } from 'node:crypto'

// HS256 JSON Web Tokens (RFC 7519) with node:crypto alone: what this app issues and accepts, nothing more.

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')

const signature = (secret, data) => createHmac('sha256', secret).update(data).digest()

/** Signs `claims` (e.g. `{ sub, iat, exp }`, times in seconds) with `secret`. */
export function signToken(secret, claims) {
  const data = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${data}.${signature(secret, data).toString('base64url')}`
}

/**
 * The claims of a token this secret signed and that has not expired; undefined for anything else. Only the exact
 * header this app writes is accepted, so a token claiming `alg: none` or another algorithm never gets as far as
 * its signature.
 */
export function verifyToken(secret, token, nowSeconds = Math.floor(Date.now() / 1000)) {
  if (typeof token !== 'string') return undefined
  const parts = token.split('.')
  if (parts.length !== 3 || parts[0] !== HEADER) return undefined
  const [header, payload, given] = parts
  const expected = signature(secret, `${header}.${payload}`)
  const actual = Buffer.from(given, 'base64url')
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined
  let claims
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof claims?.sub !== 'string' || typeof claims.exp !== 'number' || claims.exp <= nowSeconds) return undefined
  return claims
}
