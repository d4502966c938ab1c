import { createServer } from 'node:net'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import express from 'express'
import { createBroker, createMemoryPersistence } from '@wren/core'
import { createAdminHandler, timePersistence } from '@wren/observability'

export async function start({ httpPort = 3000, mqttPort = 1883, host = '127.0.0.1', adminToken = process.env.WREN_ADMIN_TOKEN } = {}) {
  if (!adminToken) throw new Error('set WREN_ADMIN_TOKEN: the admin routes can kick clients and delete sessions')
  // Timing the store feeds the persistence latency histogram of /admin/metrics.
  const broker = createBroker({ persistence: timePersistence(createMemoryPersistence()) })
  await broker.ready()
  const admin = createAdminHandler({ broker, token: adminToken })

  const app = express()
  app.get('/', (req, res) => res.send('<a href="/admin/">dashboard</a>'))
  // One handler: /admin/ (dashboard), /admin/clients, /admin/metrics, /admin/api/v1/...
  app.use('/admin', admin)

  const http = app.listen(httpPort, host)
  const tcp = createServer((socket) => broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }))
  await Promise.all([once(http, 'listening'), once(tcp.listen(mqttPort, host), 'listening')])

  const close = async () => {
    admin.close()
    await broker.close()
    http.closeAllConnections()
    await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => tcp.close(r))])
  }
  return { broker, httpPort: http.address().port, mqttPort: tcp.address().port, close }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { httpPort, mqttPort } = await start()
  console.log(`dashboard on http://127.0.0.1:${httpPort}/admin/, MQTT on :${mqttPort}`)
}
