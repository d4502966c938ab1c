#!/usr/bin/env node
// Where the slowest deliveries of scenario 4 come from: runs `latency-5k` against one broker with both
// processes' garbage collections recorded on the Unix clock (the broker's through lib/gc-log.js, when it is a
// Node broker), then lines the slowest 0.1 % up against them and against the generator's late send ticks.
// With --c-subscriber, mosquitto_sub (C, its own process) receives and timestamps the deliveries instead of the
// generator's in-process subscriber: the same figure without one Node process's pauses on the receiving end.
// Usage: node benchmarks/latency-trace.js [--broker wren] [--runs 3] [--rate 5000] [--duration 5000]
//          [--warm-up 1000] [--show 25] [--c-subscriber] [--realtime]
// --realtime runs the broker, the generator (and mosquitto_sub) under lib/processes.js's REALTIME launcher.
// --node-flags='<flags>' adds V8/Node flags to a Node broker's command line.
// --cpu-prof profiles a Node broker (sampling every 0.2 ms) and prints what it ran during its stalls.
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BROKERS } from './lib/brokers.js'
import { freePort, REALTIME, runGenerator, startBroker } from './lib/processes.js'
import { percentileOfSorted } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: 'wren' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '5000' },
    show: { type: 'string', default: '25' },
    'warm-up': { type: 'string', default: '1000' },
    'c-subscriber': { type: 'boolean', default: false },
    realtime: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
  },
})
const READY_TOPIC = 'bench/latency-ready'
const GC_LOG = fileURLToPath(new URL('./lib/gc-log.js', import.meta.url))
// A send tick later than this after the one before is a generator stall (the ticks are 1 ms timers).
const LATE_TICK_MS = 3

const broker = BROKERS.find((b) => b.name === values.broker)
if (!broker) throw new Error(`unknown broker ${values.broker}`)
const isNode = (argv) => argv[0] === process.execPath

async function traceOnce(run) {
  const workDir = mkdtempSync(join(tmpdir(), 'wren-trace-'))
  const gcFile = join(workDir, 'broker-gc.json')
  let running
  try {
    const port = await freePort()
    const profiling = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${workDir}`, '--cpu-prof-interval=200'] : []
    const argv = broker.argv({ port, workDir, nodeFlags: ['--import', GC_LOG, ...profiling, ...values['node-flags'].split(' ').filter(Boolean)] })
    const launcher = values.realtime ? REALTIME : []
    running = await startBroker([...launcher, ...(isNode(argv) ? ['/usr/bin/env', `WREN_GC_LOG=${gcFile}`] : []), ...argv], port, { readyLine: broker.readyLine })
    const warmUp = Math.round((Number(values.rate) * Number(values['warm-up'])) / 1000)
    const total = Math.round((Number(values.rate) * Number(values.duration)) / 1000)
    const cSubscriber = values['c-subscriber'] ? await startCSubscriber(port, warmUp + total, launcher, workDir) : null
    const job = { kind: 'latency', qos: 1, payloadSize: 64, ratePerSec: Number(values.rate), durationMs: Number(values.duration), warmUpMs: Number(values['warm-up']), drainMs: 5_000, trace: true, externalSubscriber: Boolean(cSubscriber), port, brokerPid: running.pid }
    const result = await runGenerator(job, job.durationMs + 40_000, launcher)
    if (cSubscriber) Object.assign(result, fromCSubscriber(await cSubscriber.lines(), warmUp, result.trace))
    await running.stop()
    running = null
    const brokerLog = isNode(argv) ? JSON.parse(readFileSync(gcFile, 'utf8')) : { collections: [], stalls: [] }
    report(run, result, brokerLog)
    const profile = readdirSync(workDir).find((name) => name.endsWith('.cpuprofile'))
    if (profile) reportStalls(JSON.parse(readFileSync(join(workDir, profile), 'utf8')), brokerLog, result.trace)
  } finally {
    await running?.stop()
    rmSync(workDir, { recursive: true, force: true })
  }
}

/**
 * mosquitto_sub at QoS 1 writing each delivery's Unix receive time and payload to a file (a pipe to this
 * process, which is not real-time, would hold it up when full); resolves once it is subscribed (it has written
 * the retained message put on a second topic for that). `lines()` resolves with its output once it has
 * received `count` messages (or after 30 s).
 */
async function startCSubscriber(port, count, launcher, workDir) {
  const where = ['-h', '127.0.0.1', '-p', String(port)]
  spawnSync('mosquitto_pub', [...where, '-t', READY_TOPIC, '-q', '1', '-r', '-m', 'ready'])
  const file = join(workDir, 'mosquitto_sub.out')
  const out = openSync(file, 'w')
  // Line-buffered (stdbuf), so the retained message is written before any other flows.
  const argv = ['-oL', 'mosquitto_sub', ...where, '-t', 'bench/latency', '-t', READY_TOPIC, '-q', '1', '-i', 'bench-latency-csub', '--nodelay']
  const [command, ...args] = [...launcher, 'stdbuf', ...argv, '-F', '%U %x', '-C', String(count + 1), '-W', '30']
  const child = spawn(command, args, { stdio: ['ignore', out, 'inherit'] })
  closeSync(out)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const deadline = Date.now() + 10_000
  while (statSync(file).size === 0) {
    if (Date.now() > deadline) throw new Error('mosquitto_sub did not subscribe within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return { lines: () => exited.then(() => readFileSync(file, 'utf8').split('\n')) }
}

/** The figures and the trace from mosquitto_sub's lines: the payload's first 8 bytes are the generator's send time. */
function fromCSubscriber(lines, warmUp, trace) {
  const deliveries = lines.filter((line) => /^\d+\.\d+ [0-9a-f]{128}$/.test(line)).slice(warmUp)
  const sentMs = []
  const latencyUs = []
  for (const line of deliveries) {
    const [received, payload] = line.split(' ')
    const sent = Buffer.from(payload.slice(0, 16), 'hex').readDoubleBE(0) + trace.toUnixMs
    sentMs.push(sent)
    latencyUs.push((Number(received) * 1000 - sent) * 1000)
  }
  const sorted = [...latencyUs].sort((a, b) => a - b)
  return {
    trace: { ...trace, sentMs, latencyUs },
    p50Us: percentileOfSorted(sorted, 50),
    p99Us: percentileOfSorted(sorted, 99),
    p999Us: percentileOfSorted(sorted, 99.9),
    maxUs: sorted[sorted.length - 1],
  }
}

/** The pauses among `pauses` ({ startMs, durationMs }) that overlap a delivery in flight from sentMs to doneMs. */
const overlapping = (pauses, sentMs, doneMs) => pauses.filter((p) => p.startMs < doneMs && p.startMs + p.durationMs > sentMs)

function lateTicks(tickMs) {
  const late = []
  for (let i = 1; i < tickMs.length; i++) {
    const gap = tickMs[i] - tickMs[i - 1]
    if (gap > LATE_TICK_MS) late.push({ startMs: tickMs[i - 1], durationMs: gap, kind: 'late tick' })
  }
  return late
}

function report(run, result, { collections: brokerCollections, stalls: brokerStalls }) {
  const { sentMs, latencyUs, tickMs, collections } = result.trace
  const order = latencyUs.map((_, i) => i).sort((a, b) => latencyUs[b] - latencyUs[a])
  const slowest = order.slice(0, Math.max(1, Math.round(latencyUs.length / 1000)))
  const late = lateTicks(tickMs)
  const origin = sentMs[0]
  const ms = (us) => (us / 1000).toFixed(2)
  const sum = (events) => events.reduce((total, e) => total + e.durationMs, 0)
  const inWindow = brokerCollections.filter((c) => c.startMs >= origin).map((c) => c.durationMs).sort((a, b) => a - b)
  const windowEnd = sentMs[sentMs.length - 1] ?? origin
  const stallsInWindow = brokerStalls.filter((s) => s.startMs + s.durationMs >= origin && s.startMs <= windowEnd).map((s) => s.durationMs).sort((a, b) => a - b)
  console.log(
    `\nrun ${run}: ${values.broker}, load ${loadavg()[0].toFixed(1)}; ${latencyUs.length} deliveries timed; p50 ${ms(result.p50Us)} p99 ${ms(result.p99Us)} p99.9 ${ms(result.p999Us)} max ${ms(result.maxUs)} ms; ` +
       `broker GCs in the window ${inWindow.length} (median ${(inWindow[inWindow.length >> 1] ?? 0).toFixed(2)} ms, longest ${(inWindow.at(-1) ?? 0).toFixed(2)}), generator GCs ${collections.length} (${sum(collections).toFixed(1)} ms), ` +
      `late ticks ${late.length} (longest ${Math.max(0, ...late.map((t) => t.durationMs)).toFixed(1)} ms), broker stalls ${brokerStalls.length} (longest ${Math.max(0, ...brokerStalls.map((t) => t.durationMs)).toFixed(1)} ms; in the window ${stallsInWindow.length}: ${stallsInWindow.map((d) => d.toFixed(1)).join(' ')})`,
  )
  const blame = { broker: 0, brokerStall: 0, generator: 0, tick: 0, brokerOnly: 0, none: 0 }
  const shown = new Set(slowest.slice(0, Number(values.show)))
  for (const i of slowest) {
    const done = sentMs[i] + latencyUs[i] / 1000
    const inBroker = overlapping(brokerCollections, sentMs[i], done)
    const inGenerator = overlapping(collections, sentMs[i], done)
    const ticks = overlapping(late, sentMs[i], done)
    const stalls = overlapping(brokerStalls, sentMs[i], done)
    const describe = (events) => events.map((e) => `${e.kind} ${e.durationMs.toFixed(1)}`).join(', ')
    if (inBroker.length) blame.broker++
    if (stalls.length) blame.brokerStall++
    if (inGenerator.length) blame.generator++
    if (ticks.length) blame.tick++
    if ((inBroker.length || stalls.length) && !inGenerator.length && !ticks.length) blame.brokerOnly++
    if (!inBroker.length && !stalls.length && !inGenerator.length && !ticks.length) blame.none++
    if (!shown.has(i)) continue
    console.log(
      `  sent +${(sentMs[i] - origin).toFixed(1)} ms  ${ms(latencyUs[i])} ms  broker[${describe([...inBroker, ...stalls])}]  generator[${describe(inGenerator)}]  ticks[${describe(ticks)}]`,
    )
  }
  const sorted = [...latencyUs].sort((a, b) => a - b)
  console.log(
    `  slowest ${slowest.length}, what was in flight: broker GC ${blame.broker}, broker stall ${blame.brokerStall}, generator GC ${blame.generator}, ` +
      `generator late tick ${blame.tick}; the broker's alone ${blame.brokerOnly}, nothing seen ${blame.none}; p99.9 ${ms(percentileOfSorted(sorted, 99.9))} ms`,
  )
}

/** The broker's profile samples (self time by function) inside each stall of 5 ms or more during the window. */
function reportStalls(profile, { stalls, monotonicToUnixMs }, trace) {
  const names = new Map(profile.nodes.map((node) => [node.id, `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').pop()}:${node.callFrame.lineNumber + 1}`]))
  const times = []
  let at = profile.startTime
  for (const delta of profile.timeDeltas) times.push((at += delta) / 1000 + monotonicToUnixMs)
  for (const stall of stalls.filter((s) => s.durationMs >= 5 && s.startMs >= trace.sentMs[0])) {
    const counts = new Map()
    for (let i = 0; i < times.length; i++) {
      if (times[i] < stall.startMs || times[i] > stall.startMs + stall.durationMs) continue
      const name = names.get(profile.samples[i])
      counts.set(name, (counts.get(name) ?? 0) + 1)
    }
    const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([name, n]) => `${name} x${n}`)
    console.log(`  broker stall at +${(stall.startMs - trace.sentMs[0]).toFixed(1)} ms, ${stall.durationMs.toFixed(1)} ms: ${top.join('; ') || 'no samples'}`)
  }
}

for (let run = 1; run <= Number(values.runs); run++) await traceOnce(run)
