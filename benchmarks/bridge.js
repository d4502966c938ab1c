#!/usr/bin/env node
// Forwarding throughput of one bridge, Wren -> Mosquitto beside Mosquitto -> Mosquitto, on loopback:
// a publisher sends `count` messages to the bridging broker (QoS 0 or 1, a window of unacknowledged ones),
// a subscriber on the remote Mosquitto counts what arrives. Prints messages per second and the bridging broker's
// CPU time per message (median of `runs`; CPU time is the steadier figure on a busy machine).
//   node bridge.js [count=20000] [runs=3]      (WREN_CPU_PROF=<dir>: V8 CPU profiles of the Wren side there)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { connectAsync } from 'mqtt'
import { mosquittoConfig } from './lib/brokers.js'
import { cpuMicros } from './lib/proc-stats.js'

const MOSQUITTO = '/usr/sbin/mosquitto'
const WREN_BRIDGE = fileURLToPath(new URL('./brokers/wren-bridge.js', import.meta.url))
const count = Number(process.argv[2] ?? 20_000)
const runs = Number(process.argv[3] ?? 3)
const RUN_TIMEOUT_MS = 120_000
const WINDOW = { 0: 1000, 1: 100 }
const profileFlags = process.env.WREN_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.WREN_CPU_PROF] : []

let nextPort = 20_000 + Math.floor(Math.random() * 20_000)
const workDir = mkdtempSync(join(tmpdir(), 'wren-bridge-bench-'))

/** Resolves once something accepts connections on `port`. */
async function listening(port, child) {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`broker on port ${port} exited with ${child.exitCode}`)
    const open = await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listens on port ${port}`)
}

async function start(argv, port) {
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' })
  await listening(port, child)
  return child
}

function mosquitto(port, extra = []) {
  const file = join(workDir, `mosquitto-${port}.conf`)
  writeFileSync(file, mosquittoConfig(port) + extra.join('\n') + '\n')
  return start([MOSQUITTO, '-c', file], port)
}

async function pair(kind) {
  const remotePort = nextPort++
  const remote = await mosquitto(remotePort)
  const localPort = nextPort++
  const local =
    kind === 'wren'
      ? await start([process.execPath, ...profileFlags, WREN_BRIDGE, String(localPort), String(remotePort)], localPort)
      : await mosquitto(localPort, ['connection bench', `address 127.0.0.1:${remotePort}`, 'topic bench/# out 1', 'notifications false'])
  return { local, localPort, remote, remotePort }
}

/** Publishes `count` messages within a window of unacknowledged ones; resolves with msgs/s as received remotely. */
async function measure(localPort, remotePort, qos, bridgingPid) {
  const subscriber = await connectAsync(`mqtt://127.0.0.1:${remotePort}`, { reconnectPeriod: 0 })
  await subscriber.subscribeAsync('bench/#', { qos })
  const publisher = await connectAsync(`mqtt://127.0.0.1:${localPort}`, { reconnectPeriod: 0 })
  // The bridge's subscription must be in place: wait until a probe crosses
  const probed = new Promise((resolve) => subscriber.once('message', resolve))
  const probe = setInterval(() => publisher.publish('bench/probe', 'p', { qos: 1 }), 200)
  await probed
  clearInterval(probe)
  let received = 0
  let sent = 0
  let acked = 0
  const cpuBefore = cpuMicros(bridgingPid)
  const started = performance.now()
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${received} of ${count} received`)), RUN_TIMEOUT_MS)
    subscriber.on('message', (topic) => {
      if (topic !== 'bench/m') return
      received++
      if (received === count) {
        clearTimeout(timer)
        resolve(performance.now())
      }
    })
  })
  const payload = Buffer.alloc(64, 'x')
  const pump = () => {
    while (sent < count && sent - acked < WINDOW[qos]) {
      sent++
      publisher.publish('bench/m', payload, { qos }, () => {
        acked++
        pump()
      })
    }
  }
  pump()
  // QoS 0 may be dropped: stop waiting a little after the last publish is written and nothing more comes
  const ended = qos === 1 ? await done : await Promise.race([done, quiet(() => received, () => acked === count)])
  const seconds = (ended - started) / 1000
  const cpu = (cpuMicros(bridgingPid) - cpuBefore) / received
  await publisher.endAsync()
  await subscriber.endAsync()
  return { rate: received / seconds, received, cpu }
}

/** Resolves with the time of the last arrival once `finished()` and nothing arrived for 2 s. */
function quiet(counter, finished) {
  return new Promise((resolve) => {
    let last = counter()
    let lastAt = performance.now()
    const timer = setInterval(() => {
      const now = counter()
      if (now !== last) {
        last = now
        lastAt = performance.now()
      } else if (finished() && performance.now() - lastAt > 2000) {
        clearInterval(timer)
        resolve(lastAt)
      }
    }, 100)
  })
}

const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)]

const results = []
try {
  for (const qos of [0, 1]) {
    for (const kind of ['wren', 'mosquitto']) {
      const rates = []
      const cpus = []
      let lost = 0
      for (let run = 0; run < runs; run++) {
        const { local, localPort, remote, remotePort } = await pair(kind)
        try {
          const { rate, received, cpu } = await measure(localPort, remotePort, qos, local.pid)
          rates.push(rate)
          cpus.push(cpu)
          lost += count - received
        } finally {
          local.kill('SIGTERM')
          remote.kill('SIGTERM')
        }
      }
      results.push({ qos, bridge: kind === 'wren' ? 'Wren -> Mosquitto' : 'Mosquitto -> Mosquitto', rate: Math.round(median(rates)), cpu: median(cpus).toFixed(1), lost })
      console.log(JSON.stringify(results.at(-1)))
    }
  }
} finally {
  rmSync(workDir, { recursive: true, force: true })
}
console.log(`\n${count} messages of 64 bytes per run, median of ${runs} runs\n`)
console.log('| QoS | bridge | msgs/s | bridging broker CPU µs/msg | lost (all runs) |\n| --- | --- | --- | --- | --- |')
for (const r of results) console.log(`| ${r.qos} | ${r.bridge} | ${r.rate} | ${r.cpu} | ${r.lost} |`)
