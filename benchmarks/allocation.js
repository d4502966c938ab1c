#!/usr/bin/env node
// Bytes the broker allocates per delivered message on the latency path (scenario 4's one QoS 1 publisher and one
// subscriber): unlike latency or throughput this does not depend on the machine's load, so it can be compared on
// a busy machine. The broker runs in a child process with a young generation large enough that no scavenge
// runs during the measurement, so the growth of the heap between two forced GCs is what it allocated.
//
//   node benchmarks/allocation.js [--messages 10000] [--rate 5000] [--payload 64] [--protocol 4|5] [--qos 1]
//                                 [--checkout DIR] [--heap-profile FILE]
//
// --checkout measures another checkout's built @wren/core (a base for before/after); --heap-profile writes a
// sampling heap profile of the measured window (objects collected by the GC included) for Chrome DevTools.
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import net from 'node:net'
import { PerformanceObserver } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import v8 from 'node:v8'
import { connectClient } from './generator/client.js'
import { encodePublish } from './generator/wire.js'

const TOPIC = 'bench/latency'
/** MiB of semi-space: the measured window's garbage must fit, or a scavenge would hide part of it. */
const SEMI_SPACE_MIB = 512

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '5000' },
    payload: { type: 'string', default: '64' },
    protocol: { type: 'string', default: '4' },
    qos: { type: 'string', default: '1' },
    checkout: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    'heap-profile': { type: 'string' },
    broker: { type: 'boolean', default: false },
  },
})

const heapUsed = () => v8.getHeapSpaceStatistics().reduce((sum, space) => sum + space.space_used_size, 0)

/** The child: a broker on a free port that measures between 'start' and 'stop' from its parent. */
async function runBroker() {
  const { createBroker } = await import(`${values.checkout}/packages/core/dist/index.js`)
  const broker = createBroker({ sysInterval: 0 })
  await broker.ready()
  const server = net.createServer((socket) => broker.handle(socket))
  await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve))
  let collections = 0
  new PerformanceObserver((list) => {
    collections += list.getEntries().length
  }).observe({ entryTypes: ['gc'] })
  const profiler = values['heap-profile'] ? new Session() : null
  profiler?.connect()
  let start = null
  process.on('message', async (command) => {
    if (command === 'start') {
      globalThis.gc()
      // The forced collection's entry is reported asynchronously: counted before the window opens.
      await new Promise((resolve) => setTimeout(resolve, 50))
      start = { heap: heapUsed(), arrayBuffers: process.memoryUsage().arrayBuffers, collections }
      await profiler?.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
      process.send({ started: true })
    } else if (command === 'stop') {
      const end = { heap: heapUsed(), arrayBuffers: process.memoryUsage().arrayBuffers, collections }
      if (profiler) writeFileSync(values['heap-profile'], JSON.stringify((await profiler.post('HeapProfiler.stopSampling')).profile))
      process.send({ heap: end.heap - start.heap, arrayBuffers: end.arrayBuffers - start.arrayBuffers, collections: end.collections - start.collections })
    }
  })
  process.send({ port: server.address().port })
}

/** Publishes `count` messages at `rate` per second, as scenario 4 does, and resolves once all are delivered. */
async function publishAt(publisher, subscriber, template, qos, count, rate) {
  let received = 0
  subscriber.onPublish = () => received++
  const startMs = performance.now()
  let sent = 0
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - startMs) * rate) / 1000) + 1)
    publisher.socket.cork()
    for (; sent < due; sent++) {
      const packet = Buffer.from(template.bytes)
      if (qos > 0) packet.writeUInt16BE((sent % 65535) + 1, template.messageIdOffset)
      publisher.socket.write(packet)
    }
    publisher.socket.uncork()
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  while (received < count) await new Promise((resolve) => setTimeout(resolve, 5))
}

async function measure() {
  const count = Number(values.messages)
  const protocolVersion = Number(values.protocol)
  const qos = Number(values.qos)
  const child = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), '--broker'], {
    execArgv: ['--expose-gc', `--min-semi-space-size=${SEMI_SPACE_MIB}`, `--max-semi-space-size=${SEMI_SPACE_MIB}`],
  })
  const reply = () => new Promise((resolve) => child.once('message', resolve))
  const { port } = await reply()
  const subscriber = await connectClient({ port, clientId: 'alloc-sub', protocolVersion })
  const publisher = await connectClient({ port, clientId: 'alloc-pub', protocolVersion })
  try {
    await subscriber.subscribe(TOPIC, qos)
    const template = encodePublish({ topic: TOPIC, payload: Buffer.alloc(Number(values.payload), 0x61), qos, protocolVersion })
    // Warm-up: the broker's code optimised and its caches filled before the window opens.
    await publishAt(publisher, subscriber, template, qos, Math.min(count, 2000), Number(values.rate))
    child.send('start')
    await reply()
    await publishAt(publisher, subscriber, template, qos, count, Number(values.rate))
    child.send('stop')
    const result = await reply()
    if (result.collections > 0) process.stderr.write(`warning: ${result.collections} GC(s) in the window: the figures are low\n`)
    console.log(JSON.stringify({
      checkout: values.checkout,
      protocolVersion,
      qos,
      payloadBytes: Number(values.payload),
      messages: count,
      heapBytesPerMessage: Math.round(result.heap / count),
      arrayBufferBytesPerMessage: Math.round(result.arrayBuffers / count),
    }))
  } finally {
    subscriber.close()
    publisher.close()
    child.kill()
  }
}

if (values.broker) await runBroker()
else await measure()
