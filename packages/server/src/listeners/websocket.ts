import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Broker } from '@wren/core'
import { urlHost, type Listener } from './listener.js'

/** The subprotocols MQTT clients offer: `mqtt` (3.1.1 and 5.0) and `mqttv3.1`. */
const MQTT_SUBPROTOCOLS = ['mqtt', 'mqttv3.1']

function chooseSubprotocol(offered: Set<string>): string | false {
  return MQTT_SUBPROTOCOLS.find((protocol) => offered.has(protocol)) ?? false
}

/**
 * Serves MQTT over WebSocket on `path` of an existing HTTP server, leaving its other routes alone:
 * what the standalone listener uses, and what an app with its own HTTP server can call.
 */
export function attachWebSocket(server: Server, broker: Broker, path = '/mqtt'): WebSocketServer {
  const wss = new WebSocketServer({ server, path, handleProtocols: chooseSubprotocol })
  // ws re-emits the HTTP server's own errors (e.g. EADDRINUSE), which reach whoever owns that server.
  wss.on('error', () => undefined)
  wss.on('connection', (ws, request: IncomingMessage) => {
    const stream = createWebSocketStream(ws)
    broker.handle(stream, {
      transport: 'ws',
      remoteAddress: request.socket.remoteAddress,
      remotePort: request.socket.remotePort,
    })
  })
  return wss
}

export interface WebSocketListenerOptions {
  host: string
  port: number
  path: string
}

/** A dedicated HTTP server for MQTT over WebSocket; any other request gets 404 or 426. */
export async function listenWebSocket(broker: Broker, options: WebSocketListenerOptions): Promise<Listener> {
  const server = createServer((request, response) => {
    const upgradeExpected = request.url?.split('?')[0] === options.path
    response.writeHead(upgradeExpected ? 426 : 404, { 'content-type': 'text/plain' })
    response.end(upgradeExpected ? 'MQTT over WebSocket: upgrade required\n' : 'not found\n')
  })
  const wss = attachWebSocket(server, broker, options.path)
  server.listen(options.port, options.host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const closed = new Promise<void>((resolve) => server.once('close', resolve))
  return {
    address: {
      transport: 'ws',
      host: options.host,
      port,
      url: `ws://${urlHost(options.host)}:${port}${options.path}`,
    },
    close() {
      wss.close()
      if (server.listening) server.close()
      server.closeIdleConnections()
      return closed
    },
    terminate() {
      for (const ws of wss.clients) ws.terminate()
      server.closeAllConnections()
    },
  }
}
