#!/usr/bin/env node
// What subscribers that stop reading cost the broker, and whether it keeps serving the others meanwhile. A broker
// (Wren's core of this checkout, or of `--core <checkout>`, at its defaults) runs in its own process; `--clients`
// raw TCP subscribers, each on a topic of its own, connect from a child process, subscribe and never read again.
// Then, one stalled client after another, a publisher sends `--bytes` of small QoS 0 messages to that client's
// topic, `--chunk` bytes per broker tick (each chunk followed by a ping the healthy subscriber must receive before
// the next chunk goes), and `--between` bytes to the healthy subscriber before the next stalled client's turn:
// each stalled client stalls in a tick of its own, with other traffic through the broker in between. The kernel
// buffers of both ends are small (`--sndbuf` on the broker's listening socket, which accepted sockets inherit;
// `--rcvbuf` on the clients), so a client stalls after a few KiB and kernel memory stays small.
// Prints, after a forced GC in the broker, its RSS, `external` and `arrayBuffers` per stalled client, against the
// same connections before any message, with the bytes really waiting in the broker's streams, and the pings'
// round trips. Usage:
//   node benchmarks/stalled-clients.js [--core <checkout>] [--clients 1000] [--bytes 16384] [--chunk 1024]
//     [--between 65536] [--payload 100] [--sndbuf 4608] [--rcvbuf 4096] [--runs 1]
import { spawn } from 'node:child_process'
import net from 'node:net'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { connectClient } from './generator/client.js'
import { encodePublish } from './generator/wire.js'

const { values } = parseArgs({
  options: {
    core: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    clients: { type: 'string', default: '1000' },
    bytes: { type: 'string', default: '16384' },
    chunk: { type: 'string', default: '1024' },
    between: { type: 'string', default: '65536' },
    payload: { type: 'string', default: '100' },
    sndbuf: { type: 'string', default: '4608' },
    rcvbuf: { type: 'string', default: '4096' },
    runs: { type: 'string', default: '1' },
    child: { type: 'string' },
  },
})
const STEP_TIMEOUT_MS = 10_000
const PING_BYTES = 8

// Node cannot set a socket's buffer sizes: a listening socket made here with SO_SNDBUF, handed to the broker by
// exec (its accepted sockets inherit the size, and a size set by hand is not tuned up by the kernel).
const LISTENER_PY = `
import os, socket, sys
listener = socket.socket()
if int(sys.argv[1]): listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, int(sys.argv[1]))
listener.bind(('127.0.0.1', 0))
listener.listen(4096)
fd = os.dup(listener.fileno())
os.set_inheritable(fd, True)
os.environ['STALLED_LISTEN_FD'] = str(fd)
os.environ['STALLED_PORT'] = str(listener.getsockname()[1])
os.execvp(sys.argv[2], sys.argv[2:])
`

// The stalled subscribers: MQTT 3.1.1 CONNECT and SUBSCRIBE (QoS 0, topic prefix + index), then nothing is read.
const CLIENTS_PY = `
import socket, sys
port, count, rcvbuf, prefix = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def packet(first, body):
    header, n = bytearray([first]), len(body)
    while True:
        n, digit = n // 128, n % 128
        header.append(digit | (128 if n else 0))
        if not n: return bytes(header) + body
def string(text):
    raw = text.encode()
    return len(raw).to_bytes(2, 'big') + raw
held = []
for i in range(count):
    s = socket.socket()
    if rcvbuf: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(('127.0.0.1', port))
    s.sendall(packet(0x10, string('MQTT') + bytes([4, 2, 0, 0]) + string('stalled-%d' % i)) + packet(0x82, b'\\0\\1' + string(prefix + str(i)) + b'\\0'))
    got = b''
    while len(got) < 9:
        more = s.recv(9 - len(got))
        if not more: sys.exit('closed before SUBACK')
        got += more
    if got[3] != 0 or got[8] == 0x80: sys.exit('refused: %r' % got)
    held.append(s)
print('ready', flush=True)
sys.stdin.read()
`

/** The broker process: the core at its defaults, served on the inherited listening socket; measures on request. */
async function runBroker() {
  const core = await import(pathToFileURL(join(resolve(values.core), 'packages/core/dist/index.js')).href)
  const broker = core.createBroker({ sysInterval: 0, persistence: core.createMemoryPersistence() })
  await broker.ready()
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    broker.handle(socket, { transport: 'tcp' })
  })
  server.listen({ fd: Number(process.env.STALLED_LISTEN_FD) }, () => process.send({ port: Number(process.env.STALLED_PORT) }))
  process.on('message', () => {
    globalThis.gc()
    globalThis.gc()
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
    let waiting = 0
    let behind = 0
    for (const socket of sockets) {
      waiting += socket.writableLength
      if (socket.writableLength > 0) behind++
    }
    process.send({ rss, heapUsed, external, arrayBuffers, waiting, behind, connections: sockets.size })
  })
}

function nextMessage(child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`broker exited (${code})`)))
  })
}

function startBroker() {
  const self = fileURLToPath(import.meta.url)
  const argv = ['-c', LISTENER_PY, values.sndbuf, process.execPath, '--expose-gc', self, '--child', 'broker', '--core', values.core]
  const child = spawn('python3', argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return nextMessage(child).then(({ port }) => ({ child, port }))
}

function startStalledClients(port, count) {
  const child = spawn('python3', ['-c', CLIENTS_PY, String(port), String(count), values.rcvbuf, 'stall/'], { stdio: ['pipe', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`stalled clients exited (${code})`)))
  })
}

/** `count` copies of a QoS 0 PUBLISH of `payload` bytes to `topic`, as one buffer. */
function messages(topic, payload, bytes) {
  const one = encodePublish({ topic, payload: Buffer.alloc(payload, 0x61), qos: 0 }).bytes
  return Buffer.concat(Array.from({ length: Math.max(1, Math.round(bytes / one.length)) }, () => one))
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

async function run() {
  const count = Number(values.clients)
  const payload = Number(values.payload)
  const chunksPerClient = Math.max(1, Math.round(Number(values.bytes) / Number(values.chunk)))
  const { child: broker, port } = await startBroker()
  const measure = () => {
    const reply = nextMessage(broker)
    broker.send('measure')
    return reply
  }
  let stalled = null
  try {
    const before = await measure()
    stalled = await startStalledClients(port, count)
    const idle = await measure()

    let pinged = null
    let delivered = 0
    const healthy = await connectClient({ port, clientId: 'healthy' })
    healthy.onPublish = (buffer, start, end) => {
      delivered++
      if (end - start === PING_BYTES && pinged) pinged()
    }
    await healthy.subscribe('healthy/#', 0)
    const publisher = await connectClient({ port, clientId: 'publisher' })
    const between = messages('healthy/bulk', payload, Number(values.between))
    const ping = encodePublish({ topic: 'healthy/ping', payload: Buffer.alloc(PING_BYTES), qos: 0 }).bytes
    const roundTrips = []
    let sent = 0
    const send = (buffer) =>
      new Promise((resolve, reject) => {
        const started = process.hrtime.bigint()
        const timer = setTimeout(() => reject(new Error(`ping ${roundTrips.length} not delivered within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS)
        pinged = () => {
          clearTimeout(timer)
          pinged = null
          roundTrips.push(Number(process.hrtime.bigint() - started) / 1e6)
          resolve()
        }
        publisher.socket.write(buffer)
        publisher.socket.write(ping)
        sent++
      })
    const started = Date.now()
    for (let i = 0; i < count; i++) {
      const chunk = messages(`stall/${i}`, payload, Number(values.chunk))
      for (let c = 0; c < chunksPerClient; c++) await send(chunk)
      await send(between)
    }
    const seconds = (Date.now() - started) / 1000
    const after = await measure()
    const bulkMessages = between.length / encodePublish({ topic: 'healthy/bulk', payload: Buffer.alloc(payload), qos: 0 }).bytes.length
    roundTrips.sort((a, b) => a - b)
    healthy.close()
    publisher.close()
    return { before, idle, after, count, seconds, delivered, expectedHealthy: count * bulkMessages + sent, roundTrips }
  } finally {
    stalled?.stdin.end()
    broker.kill()
  }
}

const kib = (bytes) => (bytes / 1024).toFixed(2)

async function main() {
  if (values.child === 'broker') return runBroker()
  console.log(
    `${values.clients} stalled clients, ${values.bytes} B each in ${values.chunk} B ticks of ${values.payload} B payloads, ${values.between} B to a healthy subscriber between them; sndbuf ${values.sndbuf}, rcvbuf ${values.rcvbuf}; core ${values.core}`,
  )
  console.log('| run | idle RSS / client KiB | stalled: RSS / client KiB | arrayBuffers / client KiB | external / client KiB | heap / client KiB | waiting in streams / client KiB | clients behind | healthy delivered | ping p50 / p99 / max ms | s |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (let r = 1; r <= Number(values.runs); r++) {
    const { before, idle, after, count, seconds, delivered, expectedHealthy, roundTrips } = await run()
    const per = (field) => kib((after[field] - idle[field]) / count)
    const trips = [0.5, 0.99, 1].map((p) => percentile(roundTrips, p).toFixed(2)).join(' / ')
    console.log(
      `| ${r} | ${kib((idle.rss - before.rss) / count)} | ${per('rss')} | ${per('arrayBuffers')} | ${per('external')} | ${per('heapUsed')} | ${kib(after.waiting / count)} | ${after.behind} of ${after.connections} | ${delivered} of ${expectedHealthy} | ${trips} | ${seconds.toFixed(1)} |`,
    )
  }
}

await main()
