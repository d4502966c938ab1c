/**
 * Runs `node start.mjs` as a user does, pointed at a Redis address where nothing answers: it must start its own
 * redis-server and three nodes, which then behave as one broker; SIGTERM stops every process it started.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createConnection } from 'node:net'
import { fileURLToPath } from 'node:url'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../../packages/persistence-redis/test/redis-server.js'
import { assertBuilt } from '../../../packages/core/test/helpers/built.js'

const START = fileURLToPath(new URL('../start.mjs', import.meta.url))


function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.end()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}

let start: ChildProcess | undefined
const clients: MqttClient[] = []

afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)))
  if (start && start.exitCode === null) start.kill('SIGKILL')
})

describe('examples/cluster', () => {
  it('starts redis-server and three nodes that act as one broker, and stops them all', async () => {
    assertBuilt('persistence-redis', 'cluster-redis')
    const redisPort = await freePort()
    const ports = [await freePort(), await freePort(), await freePort()]
    start = spawn(process.execPath, [START], {
      env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${redisPort}`, MQTT_PORTS: ports.join(',') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => start!.once('exit', (code) => resolve(code)))
    let output = ''
    start.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the nodes did not start within 45 s:\n${output}`)), 45_000)
      start!.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk
        if ((output.match(/MQTT on/g) ?? []).length === 3) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    expect(output).toContain('redis-server on')
    expect(await answers(redisPort)).toBe(true)

    const connected = await Promise.all(ports.map((port) => connectAsync({ host: '127.0.0.1', port, protocolVersion: 5, reconnectPeriod: 0 })))
    clients.push(...connected)
    const [first, , third] = connected
    await third!.subscribeAsync('example/#', { qos: 1 })
    const received = new Promise<string>((resolve) => third!.once('message', (_topic, payload) => resolve(payload.toString())))
    await first!.publishAsync('example/hello', 'from node 1', { qos: 1 })
    expect(await received).toBe('from node 1')

    start.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(await answers(redisPort)).toBe(false)
    for (const port of ports) expect(await answers(port)).toBe(false)
  })
})
