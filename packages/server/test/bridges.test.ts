import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startMosquitto, type MosquittoServer } from '../../bridge/test/mosquitto-server.js'
import { startRedisServer } from '../../persistence-redis/test/redis-server.js'
import { startServer } from '../src/index.js'
import { adminUrl, runWren, startWren } from './helpers/wren-process.js'

let dir: string
let mosquitto: MosquittoServer
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wren-bridges-'))
  mosquitto = await startMosquitto()
})
afterAll(async () => {
  await mosquitto.stop()
  await rm(dir, { recursive: true, force: true })
})

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, content)
  return path
}

describe('bridges in the wren server', () => {
  it('--bridge-file: Mosquitto bridge blocks work unchanged, and each bridge has metrics on the admin port', async () => {
    const topic = uniqueId('site')
    const bridges = await file(
      'bridges.conf',
      [
        '# copied from a mosquitto.conf',
        'connection central',
        `address 127.0.0.1:${mosquitto.port}`,
        `remote_clientid ${topic}-bridge`,
        `topic # out 1 local/ ${topic}/`,
        'restart_timeout 1 5',
      ].join('\n'),
    )
    const server = await startWren(['--bridge-file', bridges, '--sys-interval', '0', '--admin-port', '0'])
    onTestFinished(() => server.stop())
    const admin = await adminUrl(server)
    await server.waitForLog((line) => line.msg === 'bridge connected')
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    const local = await connectClient(server.urls.tcp as string)
    await local.client.publishAsync('local/temp', '20', { qos: 1 })
    const message = await remote.inbox.next()
    expect(`${message.topic}=${message.payload.toString()}`).toBe(`${topic}/temp=20`)
    // The bridge reports by itself: nothing in the server wires it to the metrics.
    const metrics = await (await fetch(`${admin}/metrics`)).text()
    expect(metrics).toMatch(/^wren_bridge_up\{bridge="central"\} 1$/m)
    expect(metrics).toMatch(/^wren_bridge_messages_sent_total\{bridge="central"\} 1$/m)
  })

  it('stops with exit code 2 at a bad line, naming the file, the line and why', async () => {
    const bridges = await file('bad.conf', 'connection a\naddress 127.0.0.1\ntopic a/# sideways\n')
    const { code, stderr } = await runWren(['--bridge-file', bridges])
    expect(code).toBe(2)
    expect(stderr).toBe(`wren: ${bridges}:3: topic: direction must be out, in or both, got 'sideways'\n`)
    const missing = join(dir, 'missing.conf')
    const absent = await runWren(['--bridge-file', missing])
    expect(absent.code).toBe(2)
    expect(absent.stderr).toContain(`${missing}:0: cannot read the bridge file`)
  })

  it('the "bridges" config key: checked at start, and run by startServer', async () => {
    const bad = await file('bad.json', JSON.stringify({ bridges: [{ name: 'b', addresses: ['127.0.0.1'], topics: [{ pattern: '' }] }] }))
    const refused = await runWren(['--config', bad])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('bridges[0]: an empty topic pattern needs both a local and a remote prefix')

    const topic = uniqueId('json')
    const server = await startServer(
      {
        host: '127.0.0.1',
        port: 0,
        wsPort: -1,
        sysInterval: 0,
        logLevel: 'silent',
        bridges: [{ name: 'up', remoteClientId: `${topic}-bridge`, addresses: [`127.0.0.1:${mosquitto.port}`], topics: [{ pattern: `${topic}/#`, direction: 'in', qos: 1 }] }],
      },
    )
    onTestFinished(() => server.close())
    const state = `$SYS/broker/connection/${topic}-bridge/state`
    const local = await connectClient(server.addresses[0]?.url as string)
    await local.client.subscribeAsync([state, `${topic}/#`], { qos: 1 })
    expect((await local.inbox.next((m) => m.topic === state, 10_000)).payload.toString()).toBe('1')
    const remote = await connectClient(mosquitto.url)
    await remote.client.publishAsync(`${topic}/cmd`, 'go', { qos: 1 })
    expect((await local.inbox.next((m) => m.topic === `${topic}/cmd`)).payload.toString()).toBe('go')
  })
})

describe('bridges in a cluster', () => {
  it('every node has the bridge, one runs it; when that node is killed another takes it over', async () => {
    const redis = await startRedisServer()
    onTestFinished(() => redis.stop())
    const topic = uniqueId('cluster')
    const bridges = await file('cluster-bridges.conf', ['connection central', `address 127.0.0.1:${mosquitto.port}`, `remote_clientid ${topic}-bridge`, `topic # out 1 "" ${topic}/`, 'restart_timeout 1'].join('\n'))
    const args = (id: string) => ['--no-ws', '--cluster', redis.url, '--node-id', id, '--bridge-file', bridges, '--sys-interval', '0']
    const nodes = [await startWren(args('node-a')), await startWren(args('node-b'))]
    onTestFinished(async () => {
      await Promise.all(nodes.map((node) => node.stop()))
    })
    const connected = (node: (typeof nodes)[number]) => node.waitForLog((line) => line.msg === 'bridge connected', 15_000).then(() => node)
    const runner = await Promise.race(nodes.map(connected))
    const other = nodes.find((node) => node !== runner) as (typeof nodes)[number]
    expect(other.logs.some((line) => line.msg === 'bridge connected')).toBe(false)

    runner.child.kill('SIGKILL')
    // its lease expires (5 s) and the other node runs the bridge
    await connected(other)
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    const local = await connectClient(other.urls.tcp as string)
    await local.client.publishAsync('after/takeover', 'ok', { qos: 1 })
    const message = await remote.inbox.next()
    expect(`${message.topic}=${message.payload.toString()}`).toBe(`${topic}/after/takeover=ok`)
  })
})

describe('bridges in workers mode', () => {
  it('one worker runs each bridge, messages from clients of every worker cross it, and a killed worker hands it on', async () => {
    const redis = await startRedisServer()
    onTestFinished(() => redis.stop())
    const topic = uniqueId('workers')
    const bridges = await file('workers-bridges.conf', ['connection central', `address 127.0.0.1:${mosquitto.port}`, `remote_clientid ${topic}-bridge`, `topic # out 1 "" ${topic}/`, 'restart_timeout 1'].join('\n'))
    const wren = await startWren(['--no-ws', '--workers', '2', '--cluster', redis.url, '--bridge-file', bridges, '--sys-interval', '0', '--log-level', 'debug'])
    onTestFinished(() => wren.stop())
    await wren.waitForLog((line) => line.msg === 'all workers started', 15_000)
    const runner = await wren.waitForLog((line) => line.msg === 'bridge connected', 15_000)
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    const url = wren.urls.tcp as string

    // The kernel hands connections to the workers in turn: publishers on both, one bridge for all of them
    const publishers = await Promise.all([0, 1, 2, 3].map(() => connectClient(url)))
    const workersUsed = new Set(wren.logs.filter((line) => line.msg === 'client connected').map((line) => line.worker))
    expect(workersUsed).toEqual(new Set([1, 2]))
    for (const [index, publisher] of publishers.entries()) await publisher.client.publishAsync(`m/${index}`, 'x', { qos: 1 })
    const topics = []
    for (let i = 0; i < publishers.length; i++) topics.push((await remote.inbox.next()).topic)
    expect(topics.sort()).toEqual([0, 1, 2, 3].map((index) => `${topic}/m/${index}`))
    expect(wren.logs.filter((line) => line.msg === 'bridge connected')).toHaveLength(1)

    // The primary starts a new worker; the bridge's lease runs out (5 s) and a live worker takes the bridge
    process.kill(runner.pid as number, 'SIGKILL')
    await wren.waitForLog((line) => line.msg === 'bridge connected' && line.pid !== runner.pid, 20_000)
    const after = await connectClient(url)
    await after.client.publishAsync('after/takeover', 'ok', { qos: 1 })
    expect((await remote.inbox.next((message) => message.topic === `${topic}/after/takeover`)).payload.toString()).toBe('ok')
  }, 60_000)
})
