/**
 * Runs the example as a user does (`node index.js`), watches the sensor's readings from an MQTT client on TCP,
 * and sends the sleeping sensor a configuration that it must pick up when it wakes.
 */
import { fileURLToPath } from 'node:url'
import { connectAsync } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { assertBuilt } from '../../../packages/core/test/helpers/built.js'
import { printedPort, startExample } from '../../../packages/core/test/helpers/example-process.js'

const EXAMPLE = fileURLToPath(new URL('../index.js', import.meta.url))

async function start(): Promise<{ tcpPort: number; output: () => string }> {
  const started = await startExample(EXAMPLE, { MQTT_PORT: '0', MQTTSN_PORT: '0', CYCLES: '6', SLEEP_SECONDS: '1' }, printedPort(/TCP on port (\d+)/))
  onTestFinished(() => {
    started.child.kill('SIGKILL')
  })
  return { tcpPort: started.ready, output: started.output }
}

describe('mqtt-sn-sensor example', () => {
  it('a sleeping MQTT-SN sensor publishes to a TCP subscriber and picks up configuration sent while it slept', async () => {
    assertBuilt('gateway-mqttsn')
    const { tcpPort, output } = await start()
    const client = await connectAsync(`mqtt://127.0.0.1:${tcpPort}`, { reconnectPeriod: 0 })
    onTestFinished(() => {
      client.end(true)
    })
    const readings: Array<{ cycle: number; interval: number }> = []
    let configured = false
    const done = new Promise<void>((resolve) => {
      client.on('message', (_topic, payload) => {
        const reading = JSON.parse(payload.toString()) as { cycle: number; interval: number }
        readings.push(reading)
        // After the first reading we see, the sensor is asleep or about to be: tell it to use a 2 s interval.
        if (!configured) {
          configured = true
          void client.publishAsync('sensors/sensor-1/config', JSON.stringify({ interval: 2 }), { qos: 1 })
        }
        if (reading.cycle === 6) resolve()
      })
    })
    await client.subscribeAsync('sensors/+/temperature', { qos: 1 })
    await done
    expect(readings.at(-1)?.interval).toBe(2)
    expect(output()).toContain('new config {"interval":2}')
  })
})
