#!/usr/bin/env node
// `node benchmarks/mqtt-sn.js [--clients 100] [--messages 200] [--window 500]`: publishes from `clients` MQTT-SN
// clients through the gateway, then from as many MQTT clients over TCP, at QoS 0 and 1, to one TCP subscriber.
// Prints messages/s, the datagrams/s the gateway handled, and the broker process's CPU per message. Bounded:
// clients × messages per run, and each run gives up after 60 s. Needs the builds (pnpm build). `--profile <dir>`
// writes the broker's CPU profile there (summarize it with profile-summary.js).
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { MqttSnClient } from '@wren/gateway-mqttsn'
import { connectClient, inBatches } from './generator/client.js'
import { encodePublish } from './generator/wire.js'
import { freePort, startBroker } from './lib/processes.js'
import { cpuMicros } from './lib/proc-stats.js'

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    messages: { type: 'string', default: '200' },
    window: { type: 'string', default: '500' },
    /** A directory for the broker's `node --cpu-prof` profile. */
    profile: { type: 'string' },
  },
})
const CLIENTS = Number(values.clients)
const MESSAGES = Number(values.messages)
const WINDOW = Number(values.window)
const TIME_LIMIT_MS = 60_000
const payload = Buffer.from('{"celsius":21.5}')

async function startWrenWithGateway() {
  // A free TCP port number is, on loopback, as good a guess as any for a free UDP one.
  const [tcpPort, udpPort] = [await freePort(), await freePort()]
  const profile = values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values.profile]
  const script = fileURLToPath(new URL('./brokers/wren-mqttsn.js', import.meta.url))
  const broker = await startBroker([process.execPath, ...profile, script, String(tcpPort), String(udpPort)], tcpPort)
  return { ...broker, tcpPort, udpPort }
}

/** A TCP subscriber counting deliveries; `until(n)` resolves once n have arrived. */
async function subscriber(port, qos) {
  let received = 0
  let waiter = null
  const client = await connectClient({
    port,
    clientId: `sub-${qos}-${Date.now()}`,
    onPublish: () => {
      received++
      if (waiter && received >= waiter.target) {
        const { resolve } = waiter
        waiter = null
        resolve()
      }
    },
  })
  await client.subscribe('bench/#', qos)
  return {
    client,
    get received() {
      return received
    },
    until(target) {
      if (received >= target) return Promise.resolve()
      return new Promise((resolve) => {
        waiter = { target, resolve }
      })
    },
  }
}

/** Sends a QoS 0 message per call, keeping at most WINDOW undelivered: UDP has no flow control of its own. */
async function runQos0(send, sub, total) {
  for (let sent = 0; sent < total; ) {
    const room = Math.min(WINDOW - (sent - sub.received), total - sent)
    for (let i = 0; i < room; i++) send(sent++)
    await sub.until(Math.min(total, sent - WINDOW / 2))
  }
  await sub.until(total)
}

async function snPublishers(udpPort) {
  return inBatches(CLIENTS, 20, async (i) => {
    const client = await MqttSnClient.connect({ port: udpPort, clientId: `sn-${i}-${Date.now()}`, duration: 600, retryInterval: 5000 })
    const topicId = await client.register(`bench/sn/${i}`)
    return { client, topicId }
  })
}

async function tcpPublishers(port) {
  return inBatches(CLIENTS, 20, async (i) => {
    const client = await connectClient({ port, clientId: `tcp-${i}-${Date.now()}` })
    return { client, topic: `bench/tcp/${i}` }
  })
}

async function scenario(broker, transport, qos) {
  const sub = await subscriber(broker.tcpPort, qos)
  const publishers = transport === 'mqtt-sn' ? await snPublishers(broker.udpPort) : await tcpPublishers(broker.tcpPort)
  const total = CLIENTS * MESSAGES
  const cpuBefore = cpuMicros(broker.pid)
  const started = process.hrtime.bigint()
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`${transport} QoS ${qos}: over ${TIME_LIMIT_MS} ms`)), TIME_LIMIT_MS).unref())
  let work
  if (qos === 0) {
    const send =
      transport === 'mqtt-sn'
        ? (n) => {
            const p = publishers[n % CLIENTS]
            p.client.send({ type: 'publish', dup: false, qos: 0, retain: false, topicIdType: 0, topicId: p.topicId, msgId: 0, payload })
          }
        : (n) => {
            const p = publishers[n % CLIENTS]
            p.client.socket.write(encodePublish({ topic: p.topic, payload, qos: 0 }).bytes)
          }
    work = runQos0(send, sub, total)
  } else {
    // Each client publishes its messages one after the other, each waiting for its PUBACK.
    work = Promise.all(
      publishers.map(async (p) => {
        for (let m = 1; m <= MESSAGES; m++) {
          if (transport === 'mqtt-sn') {
            await p.client.publish({ topicIdType: 0, topicId: p.topicId }, payload, { qos: 1 })
          } else {
            const acked = new Promise((resolve) => {
              p.client.onPuback = resolve
            })
            p.client.socket.write(encodePublish({ topic: p.topic, payload, qos: 1, messageId: m }).bytes)
            await acked
          }
        }
      }),
    ).then(() => sub.until(total))
  }
  await Promise.race([work, timeout])
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const cpu = cpuMicros(broker.pid) - cpuBefore
  for (const p of publishers) p.client.close()
  sub.client.close()
  const perSecond = total / seconds
  // QoS 0: one datagram per message; QoS 1: the PUBLISH and its PUBACK.
  const datagrams = transport === 'mqtt-sn' ? perSecond * (qos === 0 ? 1 : 2) : undefined
  return { transport, qos, messages: total, seconds, perSecond, datagrams, cpuMicrosPerMessage: cpu / total }
}

const broker = await startWrenWithGateway()
const rows = []
try {
  for (const qos of [0, 1]) {
    for (const transport of ['mqtt-sn', 'tcp']) rows.push(await scenario(broker, transport, qos))
  }
} finally {
  await broker.stop()
}
console.log(`${CLIENTS} publishers x ${MESSAGES} messages, one TCP subscriber, QoS 0 window ${WINDOW}`)
console.log('| transport | QoS | messages/s | gateway datagrams/s | broker CPU per message |')
console.log('| --- | --- | --- | --- | --- |')
for (const r of rows) {
  const datagrams = r.datagrams === undefined ? '' : Math.round(r.datagrams).toLocaleString('en')
  console.log(`| ${r.transport} | ${r.qos} | ${Math.round(r.perSecond).toLocaleString('en')} | ${datagrams} | ${r.cpuMicrosPerMessage.toFixed(1)} µs |`)
}
