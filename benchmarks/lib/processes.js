// Starting and stopping the harness's children: a broker on a loopback port, and the load generator that
// talks to it. Both are separate processes so /proc can charge each one for its own CPU time.
import { spawn } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { withRaisedFileLimit } from './spawn.js'

const GENERATOR_MAIN = fileURLToPath(new URL('../generator/main.js', import.meta.url))
const STDERR_TAIL = 2000

/**
 * The launcher that runs a process under the real-time FIFO scheduling class (chrt, root only): it preempts
 * every ordinary process, so what other work on the machine does to a latency figure mostly disappears. Only
 * for fixed-rate scenarios that keep a process far below a core: a busy real-time process starves the rest.
 */
export const REALTIME = ['chrt', '-f', '10']

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}

/**
 * Spawns `argv` (a broker listening on `port`) and resolves once the port accepts connections and, given
 * `readyLine`, once the broker has printed that text on stdout (the server's workers mode listens as soon as
 * its first worker does, before the others have started). Rejects with the broker's own output when it exits
 * first or is not ready within `timeoutMs`.
 */
export async function startBroker(argv, port, { timeoutMs = 10_000, readyLine } = {}) {
  const child = spawn('/bin/sh', withRaisedFileLimit(argv), { stdio: ['ignore', readyLine ? 'pipe' : 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL)
  })
  // Read stdout to the end even once ready: a broker blocks writing its log to a full pipe.
  let stdout = ''
  let sawReadyLine = !readyLine
  child.stdout?.on('data', (chunk) => {
    if (sawReadyLine) return
    stdout = (stdout + chunk).slice(-STDERR_TAIL)
    sawReadyLine = stdout.includes(readyLine)
  })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break
    if (sawReadyLine && (await canConnect(port))) {
      return {
        pid: child.pid,
        stderr: () => stderr,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return
          const killer = setTimeout(() => child.kill('SIGKILL'), 5_000)
          child.kill('SIGTERM')
          await exited(child)
          clearTimeout(killer)
        },
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  await exited(child)
  const output = `${stdout}${stderr}`.trim()
  const what = sawReadyLine ? `start listening on ${port}` : `print "${readyLine}"`
  throw new Error(`broker did not ${what}: ${output || `exit code ${child.exitCode}`}`)
}

/**
 * Runs one job in a fresh generator process; rejects when it fails or outlives `timeoutMs`. `launcher` runs
 * it (e.g. `realtime` below).
 */
export function runGenerator(job, timeoutMs, launcher = []) {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', withRaisedFileLimit([...launcher, process.execPath, GENERATOR_MAIN]), {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let settled = false
    const finish = (error, result) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error) reject(error)
      else resolve(result)
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish(new Error(`load generator did not finish within ${timeoutMs} ms`))
    }, timeoutMs)
    child.once('message', (reply) => {
      if (reply.ok) finish(null, reply.result)
      else finish(new Error(reply.error))
    })
    // A reply sent just before exiting can arrive after 'exit'; give it a moment before calling it lost.
    child.once('exit', (code) =>
      setTimeout(() => finish(new Error(`load generator exited with code ${code} before replying`)), 200),
    )
    child.once('error', (error) => finish(error))
    child.send(job)
  })
}
