// The listener a Node broker script serves on 127.0.0.1:<port>, from the access arguments the harness passes
// (lib/access.js): plain TCP by default, `transport=tls` with `tls-key=` and `tls-cert=`, or `transport=ws`
// (MQTT over WebSocket on /mqtt, each socket handed over as `ws`'s duplex stream, as the Wren server does).
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import tls from 'node:tls'
import { createWebSocketStream, WebSocketServer } from 'ws'

// The Wren server's listeners' backlog (packages/server listener.ts): Node's default 511 resets clients in a connect storm.
const BACKLOG = 4096

/** The value of `name=value` among `args`, or undefined. */
export function argValue(args, name) {
  return args.find((arg) => arg.startsWith(`${name}=`))?.slice(name.length + 1)
}

/**
 * Serves `handle(stream, meta)` for each connection, `meta` as the Wren server makes it (transport and the peer's
 * address, which per-address login limits key on). `backlog` false keeps Node's default (what Aedes' docs show).
 */
export function listen(port, args, handle, { backlog = true } = {}) {
  const transport = argValue(args, 'transport') ?? 'tcp'
  // Read when a hook asks (a login check keys its per-address limit on it): the peer's address costs a
  // getpeername call, which an idle client that nobody asks about need not pay for.
  const meta = (socket) => ({
    transport,
    get remoteAddress() {
      return socket.remoteAddress
    },
    get remotePort() {
      return socket.remotePort
    },
  })
  let server
  if (transport === 'tls') {
    const key = readFileSync(argValue(args, 'tls-key'))
    const cert = readFileSync(argValue(args, 'tls-cert'))
    server = tls.createServer({ key, cert }, (socket) => handle(socket, meta(socket)))
  } else if (transport === 'ws') {
    server = http.createServer()
    const wss = new WebSocketServer({ server, path: '/mqtt', handleProtocols: (offered) => (offered.has('mqtt') ? 'mqtt' : false) })
    wss.on('connection', (socket, request) => handle(createWebSocketStream(socket), meta(request.socket)))
  } else if (transport === 'tcp') {
    server = net.createServer((socket) => handle(socket, meta(socket)))
  } else {
    throw new Error(`unknown transport ${transport}`)
  }
  server.listen({ port, host: '127.0.0.1', ...(backlog ? { backlog: BACKLOG } : {}) })
  return server
}
