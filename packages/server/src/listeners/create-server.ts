import type { TlsOptions } from 'node:tls'
import type { Broker } from '@wren/core'
import type { Listener, ListenerAddress } from './listener.js'
import { closeNow, openListeners, type ListenerProtocol, type ListenerSpec } from './open-listeners.js'

interface Endpoint {
  port: number
  /** Default: the `host` of the options. */
  host?: string
  /** Connections this listener holds at once. */
  maxConnections?: number
  /** Reaches the hooks as `client.meta.listener`. */
  name?: string
}

interface WebSocketEndpoint extends Endpoint {
  /** Default `/mqtt`. */
  path?: string
}

export interface CreateServerOptions {
  /** Address the listeners bind to unless they name their own. Default `127.0.0.1`: this machine only. */
  host?: string
  /** MQTT over TCP: a port, or a port with options. */
  tcp?: number | Endpoint
  /** MQTT over WebSocket. */
  ws?: number | WebSocketEndpoint
  /** MQTT over TLS: `cert` and `key` (and `ca`, ...) as for `tls.createServer`. */
  tls?: Endpoint & TlsOptions
  /** MQTT over secure WebSocket. */
  wss?: WebSocketEndpoint & TlsOptions
}

export interface BrokerServer {
  readonly listeners: readonly Listener[]
  /** One per listener, in the order tcp, ws, tls, wss; port 0 shows here as the port chosen. */
  readonly addresses: readonly ListenerAddress[]
  /** Stops accepting and cuts the connections still open: close the broker first to say goodbye to clients. */
  close(): Promise<void>
}

const DEFAULT_HOST = '127.0.0.1'

function spec(protocol: ListenerProtocol, endpoint: number | (WebSocketEndpoint & TlsOptions), host: string): ListenerSpec {
  if (typeof endpoint === 'number') return { protocol, host, port: endpoint }
  const { port, host: own, path, maxConnections, name, ...tls } = endpoint
  return {
    protocol,
    host: own ?? host,
    port,
    ...(path === undefined ? {} : { path }),
    ...(maxConnections === undefined ? {} : { maxConnections }),
    ...(name === undefined ? {} : { name }),
    ...(protocol === 'mqtts' || protocol === 'wss' ? { tls } : {}),
  }
}

/**
 * Serves a broker on the usual transports in one call:
 * `await createServer(broker, { tcp: 1883, ws: { port: 8083 } })`.
 * Rejects with a `ListenerError` naming the listener that could not open, after closing the others.
 */
export async function createServer(broker: Broker, options: CreateServerOptions): Promise<BrokerServer> {
  const host = options.host ?? DEFAULT_HOST
  const specs: ListenerSpec[] = []
  if (options.tcp !== undefined) specs.push(spec('mqtt', options.tcp, host))
  if (options.ws !== undefined) specs.push(spec('ws', options.ws, host))
  if (options.tls !== undefined) specs.push(spec('mqtts', options.tls, host))
  if (options.wss !== undefined) specs.push(spec('wss', options.wss, host))
  if (specs.length === 0) throw new TypeError('createServer needs at least one of tcp, ws, tls, wss')
  const listeners = await openListeners(broker, specs)
  return {
    listeners,
    addresses: listeners.map((listener) => listener.address),
    close: () => closeNow(listeners),
  }
}
