/**
 * Runs the example as a user does (`node index.js`), stops it, starts it again on the same file, and checks
 * that a retained message and a message queued for an offline persistent session are still there.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, connectAsync, type IConnackPacket, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../packages/core/test/helpers/built.js'

const EXAMPLE = fileURLToPath(new URL('../index.js', import.meta.url))
/** The example imports the packages as a user would, from their builds. */

interface Running {
  child: ChildProcess
  port: number
  exited: Promise<number | null>
}

/** Starts `node index.js` on any free port and resolves once it prints the port. */
function run(file: string): Promise<Running> {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { ...process.env, WREN_DB: file, MQTT_PORT: '0', MQTT_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let output = ''
  let started = false
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the example did not start within 10 s:\n${output}`)), 10_000)
    const fail = (error: Error): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(error)
    }
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      const port = /on port (\d+)/.exec(output)?.[1]
      if (port === undefined) return
      started = true
      clearTimeout(timer)
      resolve({ child, port: Number(port), exited })
    })
    void exited.then((code) => {
      if (!started) fail(new Error(`the example exited with ${code}:\n${output}`))
    })
  })
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
    const url = `mqtt://127.0.0.1:${running.port}`

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
    const restartedUrl = `mqtt://127.0.0.1:${running.port}`

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
