import { pathToFileURL } from 'node:url'
import express from 'express'
import { createBroker, topicNameProblem } from '@wren/core'
import { attachWebSocket, createServer } from '@wren/server'

export async function start({ httpPort = 3000, mqttPort = 1883, host = '127.0.0.1' } = {}) {
  const broker = createBroker()
  await broker.ready()
  const app = express().use(express.json())
  app.get('/health', (req, res) => res.json({ ok: true, clients: broker.connectedClients }))
  app.post('/notify', async (req, res) => {
    const { topic, message } = req.body ?? {}
    // A topic name, not a filter: MQTT forbids publishing to a/+ or a/# [MQTT-3.3.2-2].
    const problem = typeof topic === 'string' ? topicNameProblem(topic) : 'not-a-string'
    if (problem !== undefined) return res.status(400).json({ error: `topic: ${problem}` })
    await broker.publish({ topic, payload: JSON.stringify(message), qos: 1 })
    res.status(202).json({ published: topic })
  })
  // Anything that still goes wrong answers JSON, like the rest of the API, rather than Express's HTML page.
  app.use((error, req, res, _next) => {
    const status = error.status ?? 500
    res.status(status).json({ error: status === 500 ? 'internal error' : error.message })
  })

  // MQTT over WebSocket shares the app's HTTP server: only upgrades on /mqtt reach the broker.
  const http = app.listen(httpPort, host)
  attachWebSocket(http, broker, '/mqtt')
  const [mqtt] = await Promise.all([
    createServer(broker, { host, tcp: mqttPort }),
    new Promise((resolve, reject) => http.once('listening', resolve).once('error', reject)),
  ])

  const close = async () => {
    await broker.close()
    http.closeAllConnections()
    await Promise.all([new Promise((r) => http.close(r)), mqtt.close()])
  }
  return { broker, httpPort: http.address().port, mqttPort: mqtt.addresses[0].port, close }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = process.env
  const { httpPort, mqttPort, close } = await start({
    httpPort: Number(env.HTTP_PORT ?? 3000),
    mqttPort: Number(env.MQTT_PORT ?? 1883),
    host: env.HOST ?? '127.0.0.1',
  })
  console.log(`HTTP and MQTT over WebSocket on :${httpPort} (/mqtt), MQTT over TCP on :${mqttPort}`)
  process.once('SIGTERM', () => close().then(() => process.exit(0)))
  process.once('SIGINT', () => close().then(() => process.exit(0)))
}
