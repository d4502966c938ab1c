import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { TLSSocket, type TlsOptions } from 'node:tls'
import { once } from 'node:events'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Broker } from '@wren/core'
import { connectionMeta, LISTEN_BACKLOG, urlHost, type Listener } from './listener.js'

/** The subprotocols MQTT clients offer: `mqtt` (3.1.1 and 5.0) and `mqttv3.1`. */
const MQTT_SUBPROTOCOLS = ['mqtt', 'mqttv3.1']

function chooseSubprotocol(offered: Set<string>): string | false {
  return MQTT_SUBPROTOCOLS.find((protocol) => offered.has(protocol)) ?? false
}

/** What an upgrade must bring, how large a WebSocket message may be, and the name the hooks see. */
export interface WebSocketLimits {
  /** Largest WebSocket message, in bytes: a frame over it closes the connection before it is buffered. Default 268435455. */
  maxPayload?: number
  /** Browser origins allowed to connect (`Origin` header, e.g. `https://app.example`); undefined = any. */
  origins?: readonly string[]
  /** Reaches the hooks as `client.meta.listener`. */
  name?: string
}

function offersMqtt(request: IncomingMessage): boolean {
  const header = request.headers['sec-websocket-protocol']
  if (header === undefined) return false
  return header.split(',').some((protocol) => MQTT_SUBPROTOCOLS.includes(protocol.trim()))
}

/**
 * Serves MQTT over WebSocket on `path` of an existing HTTP or HTTPS server, leaving its other routes alone:
 * what the standalone listeners use, and what an app with its own HTTP server can call. An upgrade without
 * an MQTT subprotocol (MQTT 5 §6.0), or from an origin not allowed, is refused with 400 / 403.
 */
export function attachWebSocket(server: Server, broker: Broker, path = '/mqtt', limits: WebSocketLimits = {}): WebSocketServer {
  const { origins, name } = limits
  const wss = new WebSocketServer({
    server,
    path,
    handleProtocols: chooseSubprotocol,
    maxPayload: limits.maxPayload ?? 268_435_455,
    verifyClient: ({ origin, req }, answer) => {
      if (!offersMqtt(req)) answer(false, 400, 'an MQTT subprotocol (mqtt or mqttv3.1) is required')
      else if (origins !== undefined && !origins.includes(origin)) answer(false, 403, 'origin not allowed')
      else answer(true)
    },
  })
  // ws re-emits the HTTP server's own errors (e.g. EADDRINUSE), which reach whoever owns that server.
  wss.on('error', () => undefined)
  wss.on('connection', (ws, request: IncomingMessage) => {
    const transport = request.socket instanceof TLSSocket ? 'wss' : 'ws'
    broker.handle(createWebSocketStream(ws), connectionMeta(request.socket, transport, name))
  })
  return wss
}

export interface WebSocketListenerOptions {
  host: string
  port: number
  path: string
  /** Makes it a secure WebSocket listener (`wss://`). */
  tls?: TlsOptions
  /** Connections held at once; more are closed as they arrive. */
  maxConnections?: number
  limits?: WebSocketLimits
}

/** A dedicated HTTP(S) server for MQTT over WebSocket; any other request gets 404 or 426. */
export async function listenWebSocket(broker: Broker, options: WebSocketListenerOptions): Promise<Listener> {
  const answerPlainHttp: RequestListener = (request, response) => {
    const upgradeExpected = request.url?.split('?')[0] === options.path
    response.writeHead(upgradeExpected ? 426 : 404, { 'content-type': 'text/plain' })
    response.end(upgradeExpected ? 'MQTT over WebSocket: upgrade required\n' : 'not found\n')
  }
  const server = options.tls ? createHttpsServer(options.tls, answerPlainHttp) : createServer(answerPlainHttp)
  const wss = attachWebSocket(server, broker, options.path, options.limits)
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections
  server.listen({ port: options.port, host: options.host, backlog: LISTEN_BACKLOG })
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const closed = new Promise<void>((resolve) => server.once('close', resolve))
  const transport = options.tls ? 'wss' : 'ws'
  const url = `${transport}://${urlHost(options.host)}:${port}${options.path}`
  return {
    address: { transport, host: options.host, port, url },
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
