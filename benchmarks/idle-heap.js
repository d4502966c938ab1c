#!/usr/bin/env node
// What one idle connection keeps in the broker: serves Wren (the core of this checkout, or of `--core <checkout>`)
// or a bare Node server that answers each CONNECT with a fixed CONNACK (`--bare`: the floor any Node broker stands
// on) in this process, connects `--clients` idle clients from a child process, and prints RSS growth per
// connection as the harness reads it (no GC) and after a forced GC, or with `--heap` the V8 heap's growth by
// constructor (self sizes from two heap snapshots, each taken after a full GC), and the CPU time this process spent
// per connect while they connected. Usage:
//   node --expose-gc benchmarks/idle-heap.js [--bare | --core <checkout>] [--clients 10000] [--transport tcp|tls|ws] [--heap [--keep-snapshots <dir>]]
import { fork } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import v8 from 'node:v8'
import { accessArgs, prepareAccess } from './lib/access.js'
import { freePort } from './lib/processes.js'
import { listen } from './brokers/listen.js'
import { holdConnection } from './brokers/node-floor.js'
import { connectClient, inBatches } from './generator/client.js'

const { values } = parseArgs({
  options: {
    bare: { type: 'boolean', default: false },
    core: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    clients: { type: 'string', default: '10000' },
    transport: { type: 'string', default: 'tcp' },
    heap: { type: 'boolean', default: false },
    'keep-snapshots': { type: 'string' },
    child: { type: 'string' },
  },
})
const SETTLE_MS = 1_000

/** The child: connects the clients, reports, and keeps them open until the parent is done. */
async function runClients({ port, transport, clients }) {
  const open = await inBatches(clients, 100, (i) => connectClient({ port, transport, clientId: `idle-${i}`, keepalive: 0 }))
  process.send('connected')
  process.once('message', () => {
    for (const client of open) client.close()
    process.exit(0)
  })
}

async function serve(port, args) {
  if (values.bare) return listen(port, args, holdConnection)
  const core = await import(pathToFileURL(join(resolve(values.core), 'packages/core/dist/index.js')).href)
  const broker = core.createBroker({ sysInterval: 0, persistence: core.createMemoryPersistence() })
  await broker.ready()
  return listen(port, args, (stream, meta) => broker.handle(stream, meta))
}

const rssKiB = () => process.memoryUsage().rss / 1024

function fullGc() {
  globalThis.gc()
  globalThis.gc()
}

/** Self size and count per `type:constructor` over a snapshot's nodes. */
function sizesByConstructor(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'))
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field))
  const { nodes, strings } = snapshot
  const groups = new Map()
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]]
    const name = ['object', 'closure', 'native'].includes(type) ? strings[nodes[i + nameAt]] : ''
    const key = `${type}:${name.slice(0, 60)}`
    const group = groups.get(key) ?? { count: 0, bytes: 0 }
    group.count++
    group.bytes += nodes[i + sizeAt]
    groups.set(key, group)
  }
  return groups
}

async function measure() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
  const clients = Number(values.clients)
  const workDir = mkdtempSync(join(tmpdir(), 'idle-heap-'))
  const snapshotDir = values['keep-snapshots'] ?? workDir
  const port = await freePort()
  const args = accessArgs(prepareAccess({ transport: values.transport }, workDir))
  const server = await serve(port, args)
  fullGc()
  // Writing a snapshot leaves freed memory that the clients' allocations would reuse: RSS is read without them.
  const beforeHeap = values.heap ? v8.writeHeapSnapshot(join(snapshotDir, 'before.heapsnapshot')) : null
  fullGc()
  const rssBefore = rssKiB()
  const usageBefore = process.memoryUsage()
  const spacesBefore = v8.getHeapSpaceStatistics()
  const cpuBefore = process.cpuUsage()
  const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify({ port, transport: values.transport, clients })])
  await new Promise((done) => child.once('message', done))
  const cpu = process.cpuUsage(cpuBefore)
  await new Promise((done) => setTimeout(done, SETTLE_MS))
  const rssNoGc = rssKiB()
  fullGc()
  const rssAfterGc = rssKiB()
  const afterHeap = values.heap ? v8.writeHeapSnapshot(join(snapshotDir, 'after.heapsnapshot')) : null
  child.send('close')
  server.close()

  const perClient = (kib) => ((kib * 1024) / clients).toFixed(0)
  console.log(`${values.bare ? 'bare Node server' : `Wren (${values.core})`}, ${values.transport}, ${clients} idle clients, Node ${process.version}`)
  console.log(`CPU per connect: ${((cpu.user + cpu.system) / clients).toFixed(1)} µs (user ${(cpu.user / clients).toFixed(1)}, system ${(cpu.system / clients).toFixed(1)})`)
  if (!values.heap) {
    console.log(`RSS growth per connection: ${perClient(rssNoGc - rssBefore)} B as the harness reads it, ${perClient(rssAfterGc - rssBefore)} B after a full GC`)
    const usage = process.memoryUsage()
    const grown = (field) => perClient((usage[field] - usageBefore[field]) / 1024)
    console.log(`after a full GC, per connection: V8 heap used ${grown('heapUsed')} B, heap reserved ${grown('heapTotal')} B, external ${grown('external')} B (array buffers ${grown('arrayBuffers')} B)`)
    const spaces = v8.getHeapSpaceStatistics().map(({ space_name, space_size }, i) => `${space_name} ${perClient((space_size - spacesBefore[i].space_size) / 1024)}`)
    console.log(`heap reserved per space, B per connection: ${spaces.join(', ')}`)
    rmSync(workDir, { recursive: true, force: true })
    return
  }
  const grown = sizesByConstructor(afterHeap)
  const base = sizesByConstructor(beforeHeap)
  if (!values['keep-snapshots']) rmSync(workDir, { recursive: true, force: true })
  const rows = []
  let total = 0
  for (const [key, { count, bytes }] of grown) {
    const was = base.get(key) ?? { count: 0, bytes: 0 }
    const delta = bytes - was.bytes
    total += delta
    if (Math.abs(delta) >= clients * 4) rows.push({ key, perClient: delta / clients, countPerClient: (count - was.count) / clients })
  }
  rows.sort((a, b) => b.perClient - a.perClient)
  console.log(`V8 heap growth per connection (self sizes): ${(total / clients).toFixed(0)} B`)
  console.log('bytes/conn  objects/conn  type:constructor')
  for (const row of rows) console.log(`${row.perClient.toFixed(0).padStart(10)}  ${row.countPerClient.toFixed(2).padStart(12)}  ${row.key}`)
}

if (values.child) await runClients(JSON.parse(values.child))
else await measure()
