/**
 * Runs the example as a user does (`node index.js`): the simulated thermostat registers, the example's MQTT
 * application reads, writes and observes it; then this test, as a second MQTT application, reads it too.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { connectAsync } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { printedPort, startExample } from '../../../packages/core/test/helpers/example-process.js'

const EXAMPLE = fileURLToPath(new URL('../index.js', import.meta.url))
/** The example imports the packages as a user would, from their builds. */
const BUILDS = ['core', 'gateway-kit', 'gateway-lwm2m'].map((pkg) => fileURLToPath(new URL(`../../../packages/${pkg}/dist/index.js`, import.meta.url)))

async function start(): Promise<{ tcpPort: number; output: () => string }> {
  const started = await startExample(EXAMPLE, { MQTT_PORT: '0', LWM2M_PORT: '0', NOTIFICATIONS: '2', KEEP_RUNNING: '1' }, printedPort(/TCP on port (\d+)/))
  onTestFinished(() => {
    started.child.kill('SIGKILL')
  })
  return { tcpPort: started.ready, output: started.output }
}

describe('lwm2m-device example', () => {
  it('an MQTT app reads, writes and observes a CoAP thermostat through the gateway', async () => {
    for (const build of BUILDS) {
      if (!existsSync(build)) throw new Error(`${build} is missing: run "pnpm build" before this test`)
    }
    const { tcpPort, output } = await start()
    await expect.poll(() => output(), { timeout: 60_000 }).toMatch(/app: temperature now [\d.]+\n.*app: temperature now [\d.]+\n/s)
    expect(output()).toMatch(/thermostat-1: registered at \/rd\/[0-9a-f]+/)
    expect(output()).toContain('app: heating switched on (2.04 changed)')
    expect(output()).toContain('app: heating reads true')

    const client = await connectAsync(`mqtt://127.0.0.1:${tcpPort}`, { reconnectPeriod: 0 })
    onTestFinished(() => {
      client.end(true)
    })
    await client.subscribeAsync('lwm2m/thermostat-1/up/resp')
    const response = new Promise<{ reqID: string; data: { content: Array<{ value: unknown }> } }>((resolve) =>
      client.on('message', (_topic, payload) => {
        const message = JSON.parse(payload.toString())
        if (message.reqID === 'from-test') resolve(message)
      }),
    )
    await client.publishAsync('lwm2m/thermostat-1/dn', JSON.stringify({ reqID: 'from-test', msgType: 'read', data: { path: '/3311/0/5850' } }))
    expect((await response).data.content).toEqual([{ path: '/3311/0/5850', value: true }])
  })
})
