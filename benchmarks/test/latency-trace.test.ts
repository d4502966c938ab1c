// The latency tracer end to end on a small bounded load: a real Wren broker process (with the collection and
// stall log preloaded), the real generator, and mosquitto_sub as the subscriber in its own process. What it
// prints is checked for shape only: which pause lines up with which message depends on the machine.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../packages/core/test/helpers/built.js'

const script = fileURLToPath(new URL('../latency-trace.js', import.meta.url))
// 100 warm-up and 500 measured messages at 1,000 msgs/s: the slowest 0.1 % is 1 message.
const TINY = ['--runs', '1', '--rate', '1000', '--warm-up', '100', '--duration', '500', '--show', '1']

async function trace(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [script, ...TINY, ...args], { timeout: 60_000 })
  return stdout
}

describe('latency trace', () => {
  beforeAll(() => assertBuilt('core'))

  it("lines the slowest message up against the broker's and the generator's pauses", { timeout: 90_000 }, async () => {
    const stdout = await trace(['--broker', 'wren'])
    expect(stdout).toMatch(/run 1: wren, load [\d.]+; 500 deliveries timed; p50 [\d.]+ p99 [\d.]+ p99\.9 [\d.]+ max [\d.]+ ms; broker GCs in the window \d+/)
    expect(stdout).toMatch(/slowest 1, what was in flight: broker GC \d, broker stall \d, generator GC \d, generator late tick \d/)
  })

  it('times the deliveries in mosquitto_sub instead of the generator', { timeout: 90_000 }, async () => {
    const stdout = await trace(['--broker', 'mosquitto', '--c-subscriber'])
    // Every measured delivery was timed: no NaN percentiles from an empty or short capture.
    expect(stdout).toMatch(/run 1: mosquitto, load [\d.]+; 500 deliveries timed; p50 [\d.]+ p99 [\d.]+ p99\.9 [\d.]+ max [\d.]+ ms/)
    expect(stdout).toMatch(/slowest 1, what was in flight/)
  })
})
