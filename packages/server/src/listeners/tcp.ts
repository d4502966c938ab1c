import { createServer, type AddressInfo, type Socket } from 'node:net'
import { createServer as createTlsServer, type TlsOptions } from 'node:tls'
import { once } from 'node:events'
import type { Broker } from '@wren/core'
import { connectionMeta, LISTEN_BACKLOG, urlHost, type Listener } from './listener.js'

export interface TcpListenerOptions {
  host: string
  port: number
  /** Makes it an MQTT over TLS listener (`mqtts://`). */
  tls?: TlsOptions
  /** Milliseconds from accept to a finished TLS handshake; a socket that does not get there is closed. Default 10000. */
  handshakeTimeout?: number
  /** Sockets open at once on this listener (TLS handshakes in progress included); more are closed at accept. */
  maxConnections?: number
  /** Reaches the hooks as `client.meta.listener`. */
  name?: string
}

/** MQTT over TCP or TLS: each accepted socket is handed to the broker as it is. */
export async function listenTcp(broker: Broker, options: TcpListenerOptions): Promise<Listener> {
  const transport = options.tls ? 'tls' : 'tcp'
  const accept = (socket: Socket): void => broker.handle(socket, connectionMeta(socket, transport, options.name))
  // A TLS socket counts from accept: one that never completes (or never starts) its handshake is closed
  // after the connect timeout, as a client that never sends CONNECT is.
  const server = options.tls
    ? createTlsServer({ ...options.tls, handshakeTimeout: options.handshakeTimeout ?? 10_000 }, accept)
    : createServer(accept)
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections
  // Raw sockets, so that a TLS handshake that never ends can be cut too.
  const sockets = new Set<Socket>()
  // One listener function for every socket: an idle connection carries no closure of its own for it.
  const forget = function (this: Socket): void {
    sockets.delete(this)
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', forget)
  })
  // A handshake that timed out or failed: the socket goes at once.
  server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy())
  server.listen({ port: options.port, host: options.host, backlog: LISTEN_BACKLOG })
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const closed = new Promise<void>((resolve) => server.once('close', resolve))
  const scheme = options.tls ? 'mqtts' : 'mqtt'
  return {
    address: { transport, host: options.host, port, url: `${scheme}://${urlHost(options.host)}:${port}` },
    close() {
      if (server.listening) server.close()
      return closed
    },
    terminate() {
      for (const socket of sockets) socket.destroy()
    },
  }
}
