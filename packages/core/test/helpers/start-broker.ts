import net from 'node:net'
import { onTestFinished } from 'vitest'
import { createBroker, type BrokerOptions } from '../../src/index.js'

export type TestBroker = ReturnType<typeof createBroker>

export interface StartedBroker {
  broker: TestBroker
  port: number
  /** mqtt://127.0.0.1:<port> */
  url: string
  /** Stops listening, destroys any socket still open and closes the broker. Safe to call more than once. */
  close(): Promise<void>
}

/** Hands every TCP connection to the broker, as a host application would. */
export function listen(broker: TestBroker): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        reject(new Error('server has no TCP address'))
        return
      }
      resolve({ server, port: address.port, sockets })
    })
  })
}

/**
 * Starts a broker on a loopback port. Inside a test it is closed when the test finishes.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<StartedBroker> {
  const broker = createBroker(options)
  await broker.ready()
  const { server, port, sockets } = await listen(broker)
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      await broker.close()
      for (const socket of sockets) socket.destroy()
      await stopped
    })()
    return closing
  }
  onTestFinished(close)
  return { broker, port, url: `mqtt://127.0.0.1:${port}`, close }
}
