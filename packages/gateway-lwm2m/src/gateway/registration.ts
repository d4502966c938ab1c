import { parseLinks } from '../codec/link-format.js'
import type { Registration } from './device.js'

export class RegistrationError extends Error {}

/** LwM2M versions this gateway speaks: 1.0 (and its 1.0.x editions); 1.1 clients fall back to it as EMQX lets them. */
const VERSION = /^1(\.[01](\.\d+)?)?$/

/**
 * The object list of a Register/Update payload (§5.3.1): paths without the alternate path, which an
 * `rt="oma.lwm2m"` link names (default "/").
 */
export function parseObjectList(payload: Buffer): { alternatePath: string; objectList: string[] } {
  let alternatePath = '/'
  const links = parseLinks(payload.toString('utf8'))
  for (const link of links) if (link.attributes.rt === 'oma.lwm2m') alternatePath = link.target.replace(/\/$/, '') || '/'
  const prefix = alternatePath === '/' ? '' : alternatePath
  const objectList: string[] = []
  for (const link of links) {
    // The root link (`</>;ct=...`, content formats the client supports) and the alternate path are not objects.
    if (link.attributes.rt === 'oma.lwm2m' || link.target === '/' || link.target === prefix) continue
    const path = prefix && link.target.startsWith(`${prefix}/`) ? link.target.slice(prefix.length) : link.target
    objectList.push(path)
  }
  return { alternatePath, objectList }
}

/** The registration a Register request asks for; throws RegistrationError (answered 4.00 Bad Request). */
export function parseRegister(query: URLSearchParams, payload: Buffer, lifetimeMin: number, lifetimeMax: number): Registration {
  const ep = query.get('ep')
  if (!ep || /[+#\u0000]/.test(ep)) throw new RegistrationError('missing or unusable endpoint name')
  const lwm2m = query.get('lwm2m')
  if (!lwm2m || !VERSION.test(lwm2m)) throw new RegistrationError(`unsupported LwM2M version ${JSON.stringify(lwm2m)}`)
  const registration: Registration = {
    ep,
    lt: clampLifetime(query.get('lt'), 86400, lifetimeMin, lifetimeMax),
    lwm2m,
    b: query.get('b') ?? 'U',
    alternatePath: '/',
    objectList: [],
  }
  const sms = query.get('sms')
  if (sms !== null) registration.sms = sms
  if (payload.length > 0) {
    try {
      Object.assign(registration, parseObjectList(payload))
    } catch (error) {
      throw new RegistrationError((error as Error).message)
    }
  }
  return registration
}

export function clampLifetime(text: string | null, fallback: number, min: number, max: number): number {
  if (text === null) return fallback
  const lifetime = Number(text)
  if (!Number.isInteger(lifetime) || lifetime < 0) throw new RegistrationError(`bad lifetime ${JSON.stringify(text)}`)
  return Math.min(max, Math.max(min, lifetime))
}
