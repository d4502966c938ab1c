/**
 * Runs the example as a user does (`node index.js`), stops it, starts it again on the same file, and checks
 * that a retained message and a message queued for an offline persistent session are still there.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, connectAsync, type IConnackPacket, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../packages/core/test/helpers/built.js'
import { printedPort, type StartedExample, startExample } from '../../../packages/core/test/helpers/example-process.js'

const EXAMPLE = fileURLToPath(new URL('../index.js', import.meta.url))

type Running = StartedExample<number>

/** Starts `node index.js` on any free port and resolves once it prints the port. */
function run(file: string): Promise<Running> {
  return startExample(EXAMPLE, { WREN_DB: file, MQTT_PORT: '0', MQTT_HOST: '127.0.0.1' }, printedPort(/on port (\d+)/))
}

async function stop(running: Running): Promise<number | null> {
  running.child.kill('SIGTERM')
  return running.exited
}

function firstMessage(client: MqttClient): Promise<string> {
  return new Promise((resolve) => client.once('message', (topic, payload) => resolve(`${topic} ${payload.toString()}`)))
}

let dir: string
const clients: MqttClient[] = []
let running: Running | null = null

beforeAll(async () => {
  assertBuilt('persistence-sqlite')
  dir = await mkdtemp(join(tmpdir(), 'wren-sqlite-example-'))
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)))
  if (running) await stop(running)
  await rm(dir, { recursive: true, force: true })
})

describe('sqlite-persistence example', () => {
  it('keeps a retained message and a queued message for an offline session across a restart', async () => {
    const file = join(dir, 'wren.db')
    running = await run(file)
    const url = `mqtt://127.0.0.1:${running.ready}`

    // A dashboard with a persistent session subscribes, then goes offline.
    const dashboard = await connectAsync(url, { clientId: 'dashboard', clean: false, reconnectPeriod: 0 })
    await dashboard.subscribeAsync('alerts/#', { qos: 1 })
    await dashboard.endAsync()

    const sensor = await connectAsync(url, { clientId: 'sensor', reconnectPeriod: 0 })
    await sensor.publishAsync('status/door', 'open', { qos: 1, retain: true })
    await sensor.publishAsync('alerts/door', 'left open', { qos: 1 })
    await sensor.endAsync()

    expect(await stop(running)).toBe(0)
    running = await run(file)
    const restartedUrl = `mqtt://127.0.0.1:${running.ready}`

    const observer = await connectAsync(restartedUrl, { clientId: 'observer', reconnectPeriod: 0 })
    clients.push(observer)
    const retained = firstMessage(observer)
    await observer.subscribeAsync('status/#', { qos: 1 })
    expect(await retained).toBe('status/door open')

    // Listening before CONNACK: the queued message may come in the same read.
    const returning = connect(restartedUrl, { clientId: 'dashboard', clean: false, reconnectPeriod: 0 })
    clients.push(returning)
    const queued = firstMessage(returning)
    const connack = await new Promise<IConnackPacket>((resolve) => returning.once('connect', resolve))
    expect(connack.sessionPresent).toBe(true)
    expect(await queued).toBe('alerts/door left open')
  })
})
