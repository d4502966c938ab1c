import dgram from 'node:dgram'
import { once } from 'node:events'
import { isIPv6 } from 'node:net'
import type { Broker } from '@wren/core'

/** A UDP socket bound for a gateway, its errors logged (an unhandled 'error' would take the process down). */
export async function bindGatewaySocket(broker: Broker, host: string, port: number, label: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4')
  socket.bind(port, host)
  await Promise.race([
    once(socket, 'listening'),
    once(socket, 'error').then(([error]) => {
      throw error
    }),
  ])
  socket.on('error', (error) => broker.logger.warn({ err: error }, `${label} socket error`))
  return socket
}

/** Closes a gateway's socket once; resolves when it is closed. */
export function closeGatewaySocket(socket: dgram.Socket, closed: Promise<void>): Promise<void> {
  try {
    socket.close()
  } catch {
    // Already closed.
  }
  return closed
}
