import { createServer, type AddressInfo, type Socket } from 'node:net'
import { once } from 'node:events'
import type { Broker } from '@wren/core'
import { urlHost, type Listener } from './listener.js'

export interface TcpListenerOptions {
  host: string
  port: number
}

/** MQTT over plain TCP: each accepted socket is handed to the broker as it is. */
export async function listenTcp(broker: Broker, options: TcpListenerOptions): Promise<Listener> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort })
  })
  server.listen(options.port, options.host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const closed = new Promise<void>((resolve) => server.once('close', resolve))
  return {
    address: { transport: 'tcp', host: options.host, port, url: `mqtt://${urlHost(options.host)}:${port}` },
    close() {
      if (server.listening) server.close()
      return closed
    },
    terminate() {
      for (const socket of sockets) socket.destroy()
    },
  }
}
