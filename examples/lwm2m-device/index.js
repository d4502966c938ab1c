import dgram from 'node:dgram'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { pathToFileURL } from 'node:url'
import { Agent, createServer as createCoapServer } from 'coap'
import { connectAsync } from 'mqtt'
import { createBroker } from '@wren/core'
import { attachLwm2m } from '@wren/gateway-lwm2m'

/** A broker on TCP with the LwM2M gateway on UDP: devices on CoAP are read and written by MQTT applications. */
export async function startBroker({ tcpPort = 1883, udpPort = 5683, host = '127.0.0.1' } = {}) {
  const broker = createBroker()
  await broker.ready()
  const server = createServer((socket) => broker.handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress }))
  await once(server.listen(tcpPort, host), 'listening')
  const socket = dgram.createSocket('udp4')
  await once(socket.bind(udpPort, host), 'listening')
  const gateway = attachLwm2m(broker, socket, { qmodeTimeWindow: 10 })
  const close = async () => {
    gateway.close()
    socket.close()
    await broker.close()
    await new Promise((resolve) => server.close(resolve))
  }
  return { broker, gateway, tcpPort: server.address().port, udpPort: socket.address().port, close }
}

/**
 * A thermostat speaking LwM2M 1.0 over CoAP: a Temperature sensor (/3303/0, IPSO) and a Light Control used as
 * its heating switch (/3311/0/5850, On/Off). It registers, answers reads and writes in text/plain, and notifies
 * an observer of its temperature once a second.
 */
export async function startDevice({ gatewayPort, host = '127.0.0.1', endpoint = 'thermostat-1', lifetime = 60, log = console.log }) {
  const state = { temperature: 21.5, heating: false }
  const socket = dgram.createSocket('udp4')
  await once(socket.bind(0, host), 'listening')
  const observers = new Set()
  const server = createCoapServer((req, res) => {
    const path = req.url.split('?')[0]
    res.setOption('Content-Format', 'text/plain')
    if (path === '/3303/0/5700' && req.method === 'GET') {
      if (req.headers.Observe === 0) {
        observers.add(res)
        res.on('finish', () => observers.delete(res))
        res.write(String(state.temperature))
        return
      }
      return res.end(String(state.temperature))
    }
    if (path === '/3311/0/5850' && req.method === 'GET') return res.end(state.heating ? '1' : '0')
    if (path === '/3311/0/5850' && req.method === 'PUT') {
      state.heating = req.payload.toString() === '1'
      log(`${endpoint}: heating ${state.heating ? 'on' : 'off'}`)
      res.code = '2.04'
      return res.end()
    }
    res.code = '4.04'
    res.end()
  })
  server.listen(socket)
  const agent = new Agent({ socket })
  const location = await new Promise((resolve, reject) => {
    const request = agent.request({
      hostname: host,
      port: gatewayPort,
      method: 'POST',
      pathname: '/rd',
      query: `ep=${endpoint}&lt=${lifetime}&lwm2m=1.0&b=U`,
      options: { 'Content-Format': 'application/link-format' },
    })
    request.on('response', (response) => (response.code === '2.01' ? resolve(`/rd/${response.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString()).slice(1).join('/')}`) : reject(new Error(`register: ${response.code}`))))
    request.on('error', reject)
    request.end('</3303/0>,</3311/0>')
  })
  log(`${endpoint}: registered at ${location}`)
  // Heating warms the room, otherwise it cools; observers hear every change.
  const tick = setInterval(() => {
    state.temperature = Math.round((state.temperature + (state.heating ? 0.5 : -0.1)) * 10) / 10
    for (const res of observers) res.write(String(state.temperature))
  }, 1000)
  // Updates before the lifetime runs out keep the registration (LwM2M 1.0 §5.3.2).
  const update = setInterval(() => agent.request({ hostname: host, port: gatewayPort, method: 'POST', pathname: location }).end(), (lifetime * 1000) / 2)
  const stop = async () => {
    clearInterval(tick)
    clearInterval(update)
    await new Promise((resolve) => {
      const request = agent.request({ hostname: host, port: gatewayPort, method: 'DELETE', pathname: location })
      request.on('response', resolve)
      request.on('error', resolve)
      request.end()
    })
    server.close()
    socket.close()
  }
  return { state, stop }
}

/** An MQTT application: reads the temperature, switches the heating on, and watches the temperature rise. */
export async function runApp({ tcpPort, host = '127.0.0.1', endpoint = 'thermostat-1', notifications = 3, log = console.log }) {
  const client = await connectAsync(`mqtt://${host}:${tcpPort}`, { reconnectPeriod: 0 })
  const base = `lwm2m/${endpoint}`
  await client.subscribeAsync(`${base}/up/#`)
  const waiting = new Map()
  let notified = 0
  let allNotified
  const enough = new Promise((resolve) => (allNotified = resolve))
  client.on('message', (topic, payload) => {
    const message = JSON.parse(payload.toString())
    if (topic === `${base}/up/notify`) {
      log(`app: temperature now ${message.data.content[0].value}`)
      if (++notified === notifications) allNotified()
      return
    }
    waiting.get(message.reqID)?.(message)
  })
  let reqID = 0
  const command = (msgType, data) => {
    reqID++
    const answered = new Promise((resolve) => waiting.set(reqID, resolve))
    client.publish(`${base}/dn`, JSON.stringify({ reqID, msgType, data }))
    return answered
  }
  const temperature = await command('read', { path: '/3303/0/5700' })
  log(`app: temperature ${temperature.data.content[0].value} (${temperature.data.code})`)
  const write = await command('write', { path: '/3311/0/5850', format: 'text', value: true })
  log(`app: heating switched on (${write.data.code} ${write.data.codeMsg})`)
  const heating = await command('read', { path: '/3311/0/5850' })
  log(`app: heating reads ${heating.data.content[0].value}`)
  await command('observe', { path: '/3303/0/5700' })
  await enough
  await command('cancel-observe', { path: '/3303/0/5700' })
  await client.endAsync()
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const host = process.env.HOST ?? '127.0.0.1'
  const started = await startBroker({ tcpPort: Number(process.env.MQTT_PORT ?? 1883), udpPort: Number(process.env.LWM2M_PORT ?? 5683), host })
  console.log(`MQTT over TCP on port ${started.tcpPort}, LwM2M over UDP on port ${started.udpPort}`)
  const device = await startDevice({ gatewayPort: started.udpPort, host })
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => device.stop().then(() => started.close()).then(() => process.exit(0)))
  await runApp({ tcpPort: started.tcpPort, host, notifications: Number(process.env.NOTIFICATIONS ?? 3) })
  if (process.env.KEEP_RUNNING !== '1') {
    await device.stop()
    await started.close()
  }
}
