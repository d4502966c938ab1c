/** Runs the example as a user does (`node index.js`) and sends a message each way across its bridge. */
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../packages/core/test/helpers/built.js'
import { startExample } from '../../../packages/core/test/helpers/example-process.js'

const EXAMPLE = fileURLToPath(new URL('../index.js', import.meta.url))

let child: ChildProcess
let ports: { site: number; central: number }
const clients: MqttClient[] = []

beforeAll(async () => {
  // The example imports the packages as a user would, from their builds.
  assertBuilt('bridge')
  const started = await startExample(EXAMPLE, { SITE_PORT: '0', CENTRAL_PORT: '0', MQTT_HOST: '127.0.0.1' }, (output) => {
    const found = /site broker on port (\d+), central broker on port (\d+)/.exec(output)
    // Started once the bridge is connected too
    return found && output.includes('bridge connected') ? { site: Number(found[1]), central: Number(found[2]) } : undefined
  })
  child = started.child
  ports = started.ready
})

afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)))
  if (child?.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
})

async function client(port: number): Promise<MqttClient> {
  const connected = await connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })
  clients.push(connected)
  return connected
}

const next = (subscriber: MqttClient) =>
  new Promise<string>((resolve) => subscriber.once('message', (topic, payload) => resolve(`${topic} ${payload.toString()}`)))

describe('examples/bridge', () => {
  it('forwards site sensors up to the centre, renamed', async () => {
    const centre = await client(ports.central)
    await centre.subscribeAsync('site-1/#', { qos: 1 })
    const received = next(centre)
    const site = await client(ports.site)
    await site.publishAsync('sensors/boiler', '71', { qos: 1 })
    expect(await received).toBe('site-1/sensors/boiler 71')
  })

  it('brings the centre commands down to the site', async () => {
    const site = await client(ports.site)
    await site.subscribeAsync('commands/#', { qos: 1 })
    const received = next(site)
    const centre = await client(ports.central)
    await centre.publishAsync('site-1/commands/boiler', 'off', { qos: 1 })
    expect(await received).toBe('commands/boiler off')
  })
})
