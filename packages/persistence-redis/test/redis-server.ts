/**
 * A real, throwaway redis-server for tests: loopback only, a free port, its own temp dir, no snapshots, and no AOF
 * unless asked for.
 * Other packages' tests import it by relative path (e.g. the broker crash test).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly dir: string
  /** SIGSTOP: connections stay open but nothing is answered, as with a hung or partitioned server. */
  pause(): void
  /** SIGCONT after `pause()`. */
  resume(): void
  /** SIGKILL, keeping the directory: the port refuses connections until `restart()`. */
  kill(): Promise<void>
  /** Starts a server again on the same port and directory after `kill()`: empty unless `appendOnly` was set. */
  restart(): Promise<void>
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>
}

const STARTUP_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5_000
const START_ATTEMPTS = 5

/** A TCP port nothing listens on at the moment (on loopback). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port)
        else reject(new Error('no port assigned'))
      })
    })
  })
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** Resolves once the server logs that it accepts connections; rejects if it exits or is too slow. */
function whenReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => finish(new Error(`redis-server not ready after ${STARTUP_TIMEOUT_MS} ms:\n${output}`)), STARTUP_TIMEOUT_MS)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) finish()
    }
    const onExit = () => finish(new Error(`redis-server exited during startup:\n${output}`))
    const finish = (error?: Error) => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.off('exit', onExit)
      if (error) reject(error)
      else resolve()
    }
    child.stdout?.on('data', onData)
    child.once('exit', onExit)
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const done = exited(child)
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await done
  clearTimeout(timer)
}

export interface RedisServerOptions {
  /** Append-only file with an fsync per write, so a killed and restarted server has every acknowledged write. */
  appendOnly?: boolean
}

function spawnRedis(port: number, dir: string, options: RedisServerOptions): ChildProcess {
  const durability = options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']
  return spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...durability, '--loglevel', 'notice'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
}

/** Waits until the server is ready, then lets its output flow so a full pipe never blocks it. */
async function ready(child: ChildProcess): Promise<void> {
  await whenReady(child)
  child.stdout?.resume()
  child.stderr?.resume()
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wren-redis-'))
  let lastError: unknown
  // A port found free can be taken before redis binds it: try another.
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort()
    let child = spawnRedis(port, dir, options)
    try {
      await ready(child)
    } catch (error) {
      lastError = error
      await stopChild(child)
      continue
    }
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      dir,
      pause() {
        child.kill('SIGSTOP')
      },
      resume() {
        child.kill('SIGCONT')
      },
      async kill() {
        const done = exited(child)
        child.kill('SIGKILL')
        await done
      },
      async restart() {
        child = spawnRedis(port, dir, options)
        await ready(child)
      },
      async stop() {
        // a paused server would not act on SIGTERM
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGCONT')
        await stopChild(child)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}
