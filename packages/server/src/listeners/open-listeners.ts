import type { TlsOptions } from 'node:tls'
import type { Broker } from '@wren/core'
import { urlHost, type Listener } from './listener.js'
import { listenTcp } from './tcp.js'
import { listenWebSocket } from './websocket.js'

/** The protocols a listener speaks, named as in Mosquitto's config and in client URLs. */
export const LISTENER_PROTOCOLS = ['mqtt', 'mqtts', 'ws', 'wss'] as const
export type ListenerProtocol = (typeof LISTENER_PROTOCOLS)[number]

export interface ListenerSpec {
  protocol: ListenerProtocol
  host: string
  /** 0 picks a free port. */
  port: number
  /** HTTP path upgraded to MQTT (ws, wss). Default `/mqtt`. */
  path?: string
  /** Certificate and key (and CA) of mqtts and wss listeners. */
  tls?: TlsOptions
  /** Connections this listener holds at once; more are closed as they arrive. */
  maxConnections?: number
  /** Reaches the hooks as `client.meta.listener`. */
  name?: string
  /** mqtts: milliseconds from accept to a finished TLS handshake. */
  handshakeTimeout?: number
  /** ws, wss: largest WebSocket message, in bytes. */
  maxPayload?: number
  /** ws, wss: browser origins allowed; undefined = any. */
  origins?: readonly string[]
}

/** A listener could not open: the message names it, e.g. `cannot listen on mqtt://0.0.0.0:1883: port 1883 is in use`. */
export class ListenerError extends Error {
  override name = 'ListenerError'
  readonly code: string | undefined

  constructor(readonly spec: ListenerSpec, cause: unknown) {
    const errno = cause as NodeJS.ErrnoException
    super(`cannot listen on ${specUrl(spec)}: ${reason(spec, errno)}`, { cause })
    this.code = errno.code
  }
}

function specUrl(spec: ListenerSpec): string {
  const path = spec.protocol === 'ws' || spec.protocol === 'wss' ? (spec.path ?? '/mqtt') : ''
  return `${spec.protocol}://${urlHost(spec.host)}:${spec.port}${path}`
}

function reason(spec: ListenerSpec, error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `port ${spec.port} is in use`
    case 'EADDRNOTAVAIL':
      return `${spec.host} is not an address of this machine`
    case 'EACCES':
      return `permission denied (ports below 1024 need privileges)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve host ${spec.host}`
    default:
      return error.message
  }
}

async function openListener(broker: Broker, spec: ListenerSpec): Promise<Listener> {
  const secure = spec.protocol === 'mqtts' || spec.protocol === 'wss'
  if (secure && spec.tls === undefined) {
    throw new ListenerError(spec, new Error(`${spec.protocol} needs a certificate and key`))
  }
  const common = {
    host: spec.host,
    port: spec.port,
    ...(secure ? { tls: spec.tls } : {}),
    ...(spec.maxConnections === undefined ? {} : { maxConnections: spec.maxConnections }),
  }
  const name = spec.name === undefined ? {} : { name: spec.name }
  try {
    if (spec.protocol === 'mqtt' || spec.protocol === 'mqtts') {
      const handshake = spec.handshakeTimeout === undefined ? {} : { handshakeTimeout: spec.handshakeTimeout }
      return await listenTcp(broker, { ...common, ...name, ...handshake })
    }
    const limits = {
      ...name,
      ...(spec.maxPayload === undefined ? {} : { maxPayload: spec.maxPayload }),
      ...(spec.origins === undefined ? {} : { origins: spec.origins }),
    }
    return await listenWebSocket(broker, { ...common, path: spec.path ?? '/mqtt', limits })
  } catch (error) {
    throw new ListenerError(spec, error)
  }
}

/** Opens the listeners in order; if one cannot open, those already open are closed and its error thrown. */
export async function openListeners(broker: Broker, specs: readonly ListenerSpec[]): Promise<Listener[]> {
  const open: Listener[] = []
  try {
    for (const spec of specs) open.push(await openListener(broker, spec))
  } catch (error) {
    await closeNow(open)
    throw error
  }
  return open
}

/** Stops the listeners from accepting and cuts the connections they still hold. */
export async function closeNow(listeners: readonly Listener[]): Promise<void> {
  const closed = Promise.all(listeners.map((listener) => listener.close()))
  for (const listener of listeners) listener.terminate()
  await closed
}
