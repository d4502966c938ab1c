import type { Socket as DgramSocket } from 'node:dgram'

/** `host:port` a gateway's UDP socket is bound to (IPv6 in brackets); undefined before it is bound. */
export function udpAddress(socket: DgramSocket): string | undefined {
  try {
    const { address, port } = socket.address()
    return `${address.includes(':') ? `[${address}]` : address}:${port}`
  } catch {
    return undefined
  }
}
