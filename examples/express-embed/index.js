import { createServer } from 'node:net'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import express from 'express'
import { WebSocketServer, createWebSocketStream } from 'ws'
import { createBroker } from '@wren/core'

export async function start({ httpPort = 3000, mqttPort = 1883, host = '127.0.0.1' } = {}) {
  const broker = createBroker()
  await broker.ready()
  const app = express().use(express.json())
  app.get('/health', (req, res) => res.json({ ok: true, clients: broker.connectedClients }))
  app.post('/notify', async (req, res) => {
    const { topic, message } = req.body
    await broker.publish({ topic, payload: JSON.stringify(message), qos: 1 })
    res.status(202).json({ published: topic })
  })

  // MQTT over WebSocket shares the app's HTTP server: only upgrades on /mqtt reach the broker.
  const http = app.listen(httpPort, host)
  new WebSocketServer({ server: http, path: '/mqtt' }).on('connection', (ws, req) =>
    broker.handle(createWebSocketStream(ws), { transport: 'ws', remoteAddress: req.socket.remoteAddress }))
  const tcp = createServer((socket) => broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress }))
  await Promise.all([once(http, 'listening'), once(tcp.listen(mqttPort, host), 'listening')])

  const close = async () => {
    await broker.close()
    http.closeAllConnections()
    await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => tcp.close(r))])
  }
  return { broker, httpPort: http.address().port, mqttPort: tcp.address().port, close }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { httpPort, mqttPort } = await start({ host: '0.0.0.0' })
  console.log(`HTTP and MQTT over WebSocket on :${httpPort} (/mqtt), MQTT over TCP on :${mqttPort}`)
}
