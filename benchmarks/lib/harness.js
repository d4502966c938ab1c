// One measurement is one scenario variant against one freshly started broker: a new broker process per
// measurement gives each its own peak RSS and no state left over from the previous scenario.
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareAccess } from './access.js'
import { peakRssKiB } from './proc-stats.js'
import { freePort, REALTIME, runGenerator, startBroker } from './processes.js'

// Time a generator may take beyond its job's own bound: connecting clients, setup and teardown.
const GENERATOR_SLACK_MS = 30_000

function jobBoundMs(job) {
  return (job.timeoutMs ?? job.durationMs + job.drainMs) + (job.settleMs ?? 0)
}

/**
 * Runs `variant` against `broker` and returns its figures. `nodeFlags` go to Node-based brokers (e.g.
 * `--cpu-prof`). With `realtime`, a latency variant's broker and generator run in the real-time scheduling
 * class (a fixed rate keeps both far below a core). Never throws for a broker's failure: the error is the
 * measurement's result.
 */
export async function measure({ broker, variant, run, nodeFlags = [], realtime = false }) {
  const workDir = mkdtempSync(join(tmpdir(), 'wren-bench-'))
  // Other work on the machine skews every figure; the 1-minute load average lets a reader spot it.
  const record = { broker: broker.name, variant: variant.id, scenario: variant.scenario, run, loadAverage1m: loadavg()[0] }
  const startedAt = Date.now()
  let running
  let services
  try {
    services = await broker.services?.({ workDir })
    const port = await freePort()
    const access = prepareAccess(variant.job, workDir)
    const launcher = realtime && variant.scenario === 'latency' ? REALTIME : []
    running = await startBroker([...launcher, ...broker.argv({ port, workDir, nodeFlags, storeSpec: services?.storeSpec, maxQueued: variant.job.maxQueued, access })], port, {
      readyLine: broker.readyLine,
      timeoutMs: broker.startTimeoutMs,
    })
    const job = { ...variant.job, settleMs: broker.settleMs ?? 0 }
    const result = await runGenerator(
      { ...job, port, brokerPid: running.pid, servicePid: services?.pid, clientPrefix: `${broker.name}-${variant.id}-${run}` },
      jobBoundMs(job) + GENERATOR_SLACK_MS,
      launcher,
    )
    return { ...record, ...result, brokerPeakRssMiB: peakRssKiB(running.pid) / 1024, wallMs: Date.now() - startedAt }
  } catch (error) {
    const stderr = running?.stderr().trim()
    return { ...record, error: `${error instanceof Error ? error.message : String(error)}${stderr ? ` (broker stderr: ${stderr})` : ''}` }
  } finally {
    await running?.stop()
    await services?.stop()
    rmSync(workDir, { recursive: true, force: true })
  }
}
