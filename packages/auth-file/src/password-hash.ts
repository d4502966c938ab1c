import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { AuthFileError, AuthFileErrorCode } from './auth-file-error.js'

/**
 * A parsed password hash. Wren writes `scrypt`; Mosquitto's `$7$` (PBKDF2-SHA512) and `$6$` (salted SHA-512)
 * are verified too, so a Mosquitto password file works unchanged until `wren passwd` rewrites its entries.
 */
export type PasswordHash =
  | { scheme: 'scrypt'; N: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { scheme: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer }
  | { scheme: 'sha512'; salt: Buffer; hash: Buffer }

/** 2^14 with r=8 costs 16 MiB and tens of milliseconds: a reconnect storm stays bearable on libuv's 4 threads. */
export const SCRYPT_DEFAULTS = { N: 16384, r: 8, p: 1 } as const
const SALT_BYTES = 16
const KEY_BYTES = 32
/** scrypt needs about 128·N·r bytes; bounding it keeps a hand-edited file from exhausting memory. */
const SCRYPT_MAX_MEMORY = 128 * 1024 * 1024
const PBKDF2_MAX_ITERATIONS = 1_000_000
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

function scryptAsync(password: Buffer, salt: Buffer, keylen: number, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem gets headroom above the bound parsePasswordHash enforces: OpenSSL counts a little more than 128·N·r.
    scrypt(password, salt, keylen, { N, r, p, maxmem: 2 * SCRYPT_MAX_MEMORY }, (error, key) =>
      error ? reject(error) : resolve(key),
    )
  })
}

function pbkdf2Async(password: Buffer, salt: Buffer, iterations: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, keylen, 'sha512', (error, key) => (error ? reject(error) : resolve(key)))
  })
}

function toBuffer(password: string | Buffer): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password
}

function invalid(message: string): AuthFileError {
  return new AuthFileError(AuthFileErrorCode.PasswordHashInvalid, message)
}

function decodeBase64(text: string | undefined, what: string): Buffer {
  if (text === undefined || !BASE64.test(text)) throw invalid(`${what} is not base64`)
  return Buffer.from(text, 'base64')
}

function parseInteger(text: string | undefined, what: string, min: number, max: number): number {
  const value = text !== undefined && /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= min && value <= max)) throw invalid(`${what} must be an integer from ${min} to ${max}`)
  return value
}

/** Parses `$scrypt$N$r$p$salt$hash`, `$7$iterations$salt$hash` or `$6$salt$hash`; throws AuthFileError. */
export function parsePasswordHash(encoded: string): PasswordHash {
  const parts = encoded.split('$')
  if (parts[0] !== '') throw invalid('a password hash starts with $')
  switch (parts[1]) {
    case 'scrypt': {
      if (parts.length !== 7) throw invalid('expected $scrypt$<N>$<r>$<p>$<salt>$<hash>')
      const N = parseInteger(parts[2], 'scrypt N', 2, 2 ** 24)
      const r = parseInteger(parts[3], 'scrypt r', 1, 64)
      const p = parseInteger(parts[4], 'scrypt p', 1, 16)
      if ((N & (N - 1)) !== 0) throw invalid('scrypt N must be a power of two')
      if (128 * N * r > SCRYPT_MAX_MEMORY) throw invalid(`scrypt N·r needs more than ${SCRYPT_MAX_MEMORY >> 20} MiB`)
      return { scheme: 'scrypt', N, r, p, salt: decodeBase64(parts[5], 'salt'), hash: decodeBase64(parts[6], 'hash') }
    }
    case '7': {
      if (parts.length !== 5) throw invalid('expected $7$<iterations>$<salt>$<hash>')
      const iterations = parseInteger(parts[2], 'iterations', 1, PBKDF2_MAX_ITERATIONS)
      return { scheme: 'pbkdf2-sha512', iterations, salt: decodeBase64(parts[3], 'salt'), hash: decodeBase64(parts[4], 'hash') }
    }
    case '6': {
      if (parts.length !== 4) throw invalid('expected $6$<salt>$<hash>')
      const hash = decodeBase64(parts[3], 'hash')
      if (hash.length !== 64) throw invalid('a $6$ hash is 64 bytes of SHA-512')
      return { scheme: 'sha512', salt: decodeBase64(parts[2], 'salt'), hash }
    }
    default:
      throw invalid('unknown hash scheme (expected $scrypt$, or Mosquitto $7$ or $6$)')
  }
}

/** Hashes a password with a fresh salt: the `$scrypt$...` text that follows `username:` in a password file. */
export async function hashPassword(password: string | Buffer): Promise<string> {
  const { N, r, p } = SCRYPT_DEFAULTS
  const salt = randomBytes(SALT_BYTES)
  const hash = await scryptAsync(toBuffer(password), salt, KEY_BYTES, N, r, p)
  return `$scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`
}

async function derive(entry: PasswordHash, password: Buffer): Promise<Buffer> {
  switch (entry.scheme) {
    case 'scrypt':
      return scryptAsync(password, entry.salt, entry.hash.length, entry.N, entry.r, entry.p)
    case 'pbkdf2-sha512':
      return pbkdf2Async(password, entry.salt, entry.iterations, entry.hash.length)
    case 'sha512':
      return createHash('sha512').update(password).update(entry.salt).digest()
  }
}

/**
 * Checks a password against a hash: a parsed one, its encoded text, or a whole `username:hash` line
 * (a username never contains ':' and a hash never does, so the first ':' splits them).
 */
export async function verifyPassword(hash: PasswordHash | string, password: string | Buffer): Promise<boolean> {
  let entry: PasswordHash
  if (typeof hash === 'string') {
    const colon = hash.indexOf(':')
    entry = parsePasswordHash(colon === -1 ? hash : hash.slice(colon + 1))
  } else {
    entry = hash
  }
  const derived = await derive(entry, toBuffer(password))
  return derived.length === entry.hash.length && timingSafeEqual(derived, entry.hash)
}

/** Verified in place of a missing user, so a wrong user name costs what a wrong password costs. */
export const DECOY_HASH: PasswordHash = {
  scheme: 'scrypt',
  ...SCRYPT_DEFAULTS,
  salt: randomBytes(SALT_BYTES),
  hash: randomBytes(KEY_BYTES),
}
