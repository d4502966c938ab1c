/**
 * Runs the example as a user does (`node index.js`), watches the sensor's readings from an MQTT client on TCP,
 * and sends the sleeping sensor a configuration that it must pick up when it wakes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connectAsync } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { assertBuilt } from '../../../packages/core/test/helpers/built.js'

const EXAMPLE = fileURLToPath(new URL('../index.js', import.meta.url))
/** The example imports the packages as a user would, from their builds. */

function start(): Promise<{ child: ChildProcess; tcpPort: number; output: () => string }> {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { ...process.env, MQTT_PORT: '0', MQTTSN_PORT: '0', CYCLES: '6', SLEEP_SECONDS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  onTestFinished(() => {
    child.kill('SIGKILL')
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not start within 10 s:\n${output}`)), 10_000)
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      const port = /TCP on port (\d+)/.exec(output)?.[1]
      if (port === undefined) return
      clearTimeout(timer)
      resolve({ child, tcpPort: Number(port), output: () => output })
    })
    child.once('exit', (code) => reject(new Error(`the example exited with ${code}:\n${output}`)))
  })
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
