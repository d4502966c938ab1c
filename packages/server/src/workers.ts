import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import type { Logger } from 'pino'
import type { ServerConfig } from './config.js'

/** A worker that dies more often than this within the window is not restarted again: the primary gives up. */
const MAX_RESTARTS = 5
const RESTART_WINDOW_MS = 60_000
/** The exit code of a configuration error: restarting the worker would fail the same way. */
const CONFIG_ERROR_EXIT = 2

/** IPC messages between the primary and its workers. */
export const WORKER_STARTED = 'wren:started'
export const WORKER_STOP = 'wren:stop'

export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers
}

/** A worker's config: its own node id, derived from the configured one so that restarts get fresh ids. */
export function workerConfig(config: ServerConfig, worker: Worker): ServerConfig {
  const own = config.nodeId === undefined ? config : { ...config, nodeId: `${config.nodeId}-${worker.id}` }
  // Each worker reports its own metrics: a shared admin port would answer from whichever worker got the request.
  return config.adminPort > 0 ? { ...own, adminPort: config.adminPort + worker.id - 1 } : own
}

/**
 * The primary of workers mode: forks the workers (each a full server; node:cluster shares the listening
 * sockets between them), restarts a worker that dies unexpectedly (a bounded number of times), and on
 * SIGINT/SIGTERM asks every worker to stop, then exits 0 once all have exited cleanly.
 */
export function runPrimary(config: ServerConfig, logger: Logger): void {
  const count = workerCount(config.workers ?? 1)
  const live = new Set<Worker>()
  const started = new Set<number>()
  const restarts: number[] = []
  let stopping = false
  let exitCode = 0

  const fork = (): void => {
    live.add(cluster.fork())
  }

  const stopAll = (code: number): void => {
    if (stopping) return
    stopping = true
    exitCode = code
    setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeout }, 'workers did not stop in time: killing them')
      for (const worker of live) worker.process.kill('SIGKILL')
      process.exit(1)
    }, config.shutdownTimeout + 1000).unref()
    for (const worker of live) {
      if (worker.isConnected()) worker.send(WORKER_STOP)
      else worker.process.kill('SIGTERM')
    }
    if (live.size === 0) process.exit(exitCode)
  }

  cluster.on('message', (worker, message) => {
    if (message !== WORKER_STARTED) return
    started.add(worker.id)
    if (started.size === count) logger.info({ workers: count }, 'all workers started')
  })

  cluster.on('exit', (worker, code, signal) => {
    live.delete(worker)
    if (stopping) {
      if (code !== 0) exitCode = 1
      if (live.size === 0) {
        logger.info({ workers: count }, 'all workers stopped')
        process.exit(exitCode)
      }
      return
    }
    const pid = worker.process.pid
    if (code === CONFIG_ERROR_EXIT) {
      logger.fatal({ pid, code }, 'a worker refused its configuration: stopping')
      stopAll(CONFIG_ERROR_EXIT)
      return
    }
    const now = Date.now()
    while (restarts.length > 0 && restarts[0]! <= now - RESTART_WINDOW_MS) restarts.shift()
    if (restarts.length >= MAX_RESTARTS) {
      logger.fatal({ pid, code, signal, restarts: restarts.length, windowMs: RESTART_WINDOW_MS }, 'workers keep dying: stopping')
      stopAll(1)
      return
    }
    restarts.push(now)
    logger.error({ pid, code, signal }, 'a worker died: starting another')
    fork()
  })

  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: killing the workers without waiting')
      for (const worker of live) worker.process.kill('SIGKILL')
      process.exit(1)
    }
    signalled = true
    logger.info({ signal, workers: live.size }, 'shutting down the workers')
    stopAll(0)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', () => {
    for (const worker of live) worker.process.kill('SIGHUP')
  })

  logger.info({ workers: count, pid: process.pid }, 'starting workers')
  for (let i = 0; i < count; i++) fork()
}
