import { once } from 'node:events'
import net from 'node:net'
import { parser as createParser, generate, type IConnectPacket } from 'mqtt-packet'
import { onTestFinished } from 'vitest'
import type { Broker } from '@wren/core'
import { uniqueId } from '../../core/test/helpers/clients.js'
import { Bridge, type BridgeOptions } from '../src/index.js'

export type BridgeSetup = Partial<BridgeOptions> & Pick<BridgeOptions, 'topics'>

/** Creates a bridge from `broker` to 127.0.0.1:`port` with quick reconnects, and waits until it is connected. */
export async function connectedBridge(broker: Broker, port: number, setup: BridgeSetup): Promise<Bridge> {
  const name = uniqueId('bridge')
  const bridge = new Bridge(broker, {
    name,
    remoteClientId: name,
    addresses: [{ host: '127.0.0.1', port }],
    restartTimeout: { base: 0.05, cap: 0.2 },
    ...setup,
  })
  onTestFinished(() => bridge.stop())
  const connected = once(bridge, 'connected')
  await bridge.start()
  await connected
  return bridge
}

/** Waits for the bridge to reach `state` (at once if it is already there). */
export function bridgeState(bridge: Bridge, state: Bridge['state']): Promise<void> {
  if (bridge.state === state) return Promise.resolve()
  return new Promise((resolve) => {
    const listener = (next: Bridge['state']) => {
      if (next !== state) return
      bridge.off('state', listener)
      resolve()
    }
    bridge.on('state', listener)
  })
}

export interface TcpProxy {
  readonly port: number
  /** CONNECT packets seen, in order (with `bridgeMode` when the bridge bit was set). */
  readonly connects: IConnectPacket[]
  /** The address each connection came from, in order. */
  readonly peers: string[]
  /** Ends every proxied connection abruptly, as a network failure would (the remote sees no DISCONNECT). */
  cut(): void
  close(): Promise<void>
}

/**
 * A TCP proxy on loopback in front of a broker (MQTT, or anything else passed through as bytes). With `refuseBridgeBit`, a CONNECT carrying the bridge bit is
 * answered with CONNACK return code 1 (unacceptable protocol version), as brokers without try_private do.
 */
export async function tcpProxy(targetPort: number, options: { refuseBridgeBit?: boolean; port?: number } = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  const connects: IConnectPacket[] = []
  const peers: string[] = []
  const track = (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => sockets.delete(socket))
  }
  const server = net.createServer((client) => {
    track(client)
    peers.push(client.remoteAddress ?? '')
    const parser = createParser()
    let first = true
    client.on('data', function onFirst(chunk: Buffer) {
      if (!first) return
      first = false
      client.off('data', onFirst)
      client.pause()
      const forward = () => {
        const upstream = net.connect({ host: '127.0.0.1', port: targetPort })
        track(upstream)
        upstream.write(chunk)
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
        upstream.once('close', () => client.destroy())
        client.once('close', () => upstream.destroy())
      }
      // Not MQTT in the clear (e.g. a TLS handshake): passed on as it is
      parser.once('error', forward)
      parser.once('packet', (packet) => {
        const connect = packet as IConnectPacket & { bridgeMode?: boolean }
        connects.push(connect)
        if (options.refuseBridgeBit && connect.bridgeMode) {
          client.end(generate({ cmd: 'connack', returnCode: 1, sessionPresent: false }))
          return
        }
        forward()
      })
      parser.parse(chunk)
    })
  })
  server.listen(options.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address() as net.AddressInfo
  const proxy: TcpProxy = {
    port: address.port,
    connects,
    peers,
    cut: () => {
      for (const socket of sockets) socket.destroy()
    },
    close: () => {
      proxy.cut()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  onTestFinished(() => proxy.close())
  return proxy
}
