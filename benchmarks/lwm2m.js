#!/usr/bin/env node
// `node benchmarks/lwm2m.js [--devices 500] [--commands 20] [--concurrency 50] [--window 200]`: `devices`
// simulated LwM2M devices (raw CoAP on their own UDP sockets) register with one gateway, `concurrency` at a
// time; then an MQTT application on TCP sends each device `commands` JSON read commands, `window` unanswered at
// most, and the devices answer at once. Prints registrations/s, commands/s (MQTT command in, CoAP request out and
// back, MQTT response out) and the broker process's CPU per operation. Bounded: devices × commands per run, each
// phase gives up after 60 s. Needs the builds (pnpm build). `--profile <dir>` writes the broker's CPU profile there
// (summarize it with profile-summary.js).
import dgram from 'node:dgram'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generate, parse } from 'coap-packet'
import { connectClient, inBatches } from './generator/client.js'
import { encodePublish } from './generator/wire.js'
import { freePort, startBroker } from './lib/processes.js'
import { cpuMicros } from './lib/proc-stats.js'

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '500' },
    commands: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '50' },
    window: { type: 'string', default: '200' },
    /** A directory for the broker's `node --cpu-prof` profile. */
    profile: { type: 'string' },
  },
})
const DEVICES = Number(values.devices)
const COMMANDS = Number(values.commands)
const CONCURRENCY = Number(values.concurrency)
const WINDOW = Number(values.window)
const TIME_LIMIT_MS = 60_000
const READING = Buffer.from('21.5')
const TEXT = Buffer.alloc(0)

function withTimeout(work, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: over ${TIME_LIMIT_MS} ms`)), TIME_LIMIT_MS)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

/** A device: registers, then answers every GET with a text reading in a piggybacked ACK. */
async function openDevice(index, gatewayPort) {
  const socket = dgram.createSocket('udp4')
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve))
  let onRegistered = null
  socket.on('message', (datagram) => {
    const packet = parse(datagram)
    if (packet.code === '0.01') {
      const answer = generate({ code: '2.05', messageId: packet.messageId, token: packet.token, ack: true, options: [{ name: 'Content-Format', value: TEXT }], payload: READING })
      socket.send(answer, gatewayPort, '127.0.0.1')
    } else if (packet.code !== '0.00' && onRegistered) {
      // Piggybacked in the ACK, or (when the broker took longer) a separate confirmable response to acknowledge.
      if (packet.confirmable) socket.send(generate({ code: '0.00', messageId: packet.messageId, ack: true }), gatewayPort, '127.0.0.1')
      onRegistered(packet.code)
    }
  })
  const endpoint = `bench-${index}`
  return {
    endpoint,
    socket,
    register() {
      return new Promise((resolve, reject) => {
        onRegistered = (code) => (code === '2.01' ? resolve() : reject(new Error(`${endpoint}: register answered ${code}`)))
        const options = [{ name: 'Uri-Path', value: Buffer.from('rd') }, { name: 'Content-Format', value: Buffer.from([40]) }]
        for (const query of [`ep=${endpoint}`, 'lt=3600', 'lwm2m=1.0', 'b=U']) options.push({ name: 'Uri-Query', value: Buffer.from(query) })
        socket.send(generate({ code: 'POST', messageId: index & 0xffff, token: Buffer.from([index >> 8, index & 0xff]), options, payload: Buffer.from('</3/0>,</3303/0>') }), gatewayPort, '127.0.0.1')
      })
    },
  }
}

const [tcpPort, udpPort] = [await freePort(), await freePort()]
const script = fileURLToPath(new URL('./brokers/wren-lwm2m.js', import.meta.url))
const profile = values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values.profile]
const broker = await startBroker([process.execPath, ...profile, script, String(tcpPort), String(udpPort)], tcpPort)
const devices = await inBatches(DEVICES, 100, (i) => openDevice(i, udpPort))
let received = 0
let waiter = null
const app = await connectClient({
  port: tcpPort,
  clientId: `app-${Date.now()}`,
  onPublish: () => {
    received++
    if (waiter && received >= waiter.target) {
      const { resolve } = waiter
      waiter = null
      resolve()
    }
  },
})
await app.subscribe('lwm2m/+/up/resp', 0)
const until = (target) => (received >= target ? Promise.resolve() : new Promise((resolve) => (waiter = { target, resolve })))

const rows = []
try {
  let cpuBefore = cpuMicros(broker.pid)
  let started = process.hrtime.bigint()
  let next = 0
  await withTimeout(
    Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < devices.length) await devices[next++].register()
      }),
    ),
    'registrations',
  )
  let seconds = Number(process.hrtime.bigint() - started) / 1e9
  rows.push({ what: 'registrations', count: DEVICES, seconds, cpu: cpuMicros(broker.pid) - cpuBefore })

  const total = DEVICES * COMMANDS
  const commands = devices.map((device) => encodePublish({ topic: `lwm2m/${device.endpoint}/dn`, payload: Buffer.from('{"reqID":1,"msgType":"read","data":{"path":"/3303/0/5700"}}'), qos: 0 }).bytes)
  cpuBefore = cpuMicros(broker.pid)
  started = process.hrtime.bigint()
  const sendAll = async () => {
    for (let sent = 0; sent < total; ) {
      const room = Math.min(WINDOW - (sent - received), total - sent)
      for (let i = 0; i < room; i++) app.socket.write(commands[sent++ % DEVICES])
      await until(Math.min(total, sent - WINDOW / 2))
    }
    await until(total)
  }
  await withTimeout(sendAll(), 'commands')
  seconds = Number(process.hrtime.bigint() - started) / 1e9
  rows.push({ what: 'read commands', count: total, seconds, cpu: cpuMicros(broker.pid) - cpuBefore })
} finally {
  app.close()
  for (const device of devices) device.socket.close()
  await broker.stop()
}
console.log(`${DEVICES} devices registering ${CONCURRENCY} at a time; ${COMMANDS} read commands each, window ${WINDOW}`)
console.log('| operation | count | per second | broker CPU per operation |')
console.log('| --- | --- | --- | --- |')
for (const r of rows) {
  console.log(`| ${r.what} | ${r.count} | ${Math.round(r.count / r.seconds).toLocaleString('en')} | ${(r.cpu / r.count).toFixed(1)} µs |`)
}
