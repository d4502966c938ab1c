import http from 'node:http'
import { WebSocketServer, createWebSocketStream } from 'ws'
import { createBroker } from '@wren/core'

const broker = createBroker()
await broker.ready()

const server = http.createServer((request, response) => response.writeHead(404).end())
const chooseSubprotocol = (offered) => (offered.has('mqtt') ? 'mqtt' : offered.has('mqttv3.1') ? 'mqttv3.1' : false)
const wss = new WebSocketServer({ server, path: '/mqtt', handleProtocols: chooseSubprotocol })
wss.on('connection', (ws, request) => {
  broker.handle(createWebSocketStream(ws), { transport: 'ws', remoteAddress: request.socket.remoteAddress })
})
server.listen(28083, '127.0.0.1', () => console.log('MQTT over WebSocket on ws://localhost:8083/mqtt'))
