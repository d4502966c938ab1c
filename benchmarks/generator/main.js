// The load generator's process: it receives one job over IPC, runs it against the broker on loopback and
// sends back the measurements. It runs apart from the harness and the broker so its CPU use is its own.
import { runConnections } from './connections.js'
import { runFlow } from './flow.js'
import { runLatency } from './latency.js'
import { runPersistent } from './persistent.js'
import { runReconnectStorm } from './reconnect-storm.js'
import { runRetained } from './retained.js'
import { runSlowConsumer } from './slow-consumer.js'

const runners = { flow: runFlow, latency: runLatency, connections: runConnections, retained: runRetained, persistent: runPersistent, 'slow-consumer': runSlowConsumer, 'reconnect-storm': runReconnectStorm }

process.once('message', async (job) => {
  let reply
  try {
    const run = runners[job.kind]
    if (!run) throw new Error(`unknown job kind ${job.kind}`)
    reply = { ok: true, result: await run(job) }
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? error.message : String(error) }
  }
  process.send(reply, () => process.exit(0))
})
