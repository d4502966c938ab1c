import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startMosquitto, type MosquittoServer } from '../../bridge/test/mosquitto-server.js'
import { startServer } from '../src/index.js'
import { runWren, startWren } from './helpers/wren-process.js'

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
  it('--bridge-file: Mosquitto bridge blocks work unchanged', async () => {
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
    const server = await startWren(['--bridge-file', bridges, '--sys-interval', '0'])
    onTestFinished(() => server.stop())
    await server.waitForLog((line) => line.msg === 'bridge connected')
    const remote = await connectClient(mosquitto.url)
    await remote.client.subscribeAsync(`${topic}/#`, { qos: 1 })
    const local = await connectClient(server.urls.tcp as string)
    await local.client.publishAsync('local/temp', '20', { qos: 1 })
    const message = await remote.inbox.next()
    expect(`${message.topic}=${message.payload.toString()}`).toBe(`${topic}/temp=20`)
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
    expect(refused.stderr).toContain(`"bridges" in ${bad}[0]: an empty topic pattern needs both a local and a remote prefix`)
    const workers = await file('workers.json', JSON.stringify({ workers: 2, cluster: 'redis://127.0.0.1:1', bridges: [], bridgeFile: 'x.conf' }))
    expect((await runWren(['--config', workers])).stderr).toContain('bridges cannot run in workers mode')

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
