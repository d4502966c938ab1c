import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'
import type { ConnectionMeta } from '@wren/core'

/** Where a listener accepts clients, as printed in the log and returned by `startServer`. */
export interface ListenerAddress {
  /** 'tcp', 'tls', 'ws' or 'wss'. */
  transport: string
  host: string
  port: number
  /** What a client connects to, e.g. `mqtt://127.0.0.1:1883` or `ws://127.0.0.1:8083/mqtt`. */
  url: string
}

export interface Listener {
  readonly address: ListenerAddress
  /** Stops accepting clients; resolves once every connection it accepted has ended. */
  close(): Promise<void>
  /** Destroys the connections still open: for a shutdown whose clients did not go in time. */
  terminate(): void
}

/**
 * Connections the kernel may hold for a listener before it accepts them. Node's default (511) overflows when
 * thousands of clients connect at once (10,000 at once got 256 resets): the kernel caps this at somaxconn.
 */
export const LISTEN_BACKLOG = 4096

/** The host as it goes into a URL: IPv6 addresses in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/**
 * What the broker (and its hooks) learn of a client's connection, its verified certificate included, and
 * `listener`: the name of the listener that accepted it, when it has one.
 */
export function connectionMeta(socket: Socket, transport: string, listener?: string): ConnectionMeta {
  const meta: ConnectionMeta = { transport, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }
  if (listener !== undefined) meta.listener = listener
  if (socket instanceof TLSSocket && socket.authorized) meta.certificate = socket.getPeerCertificate()
  return meta
}
