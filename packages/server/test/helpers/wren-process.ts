import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { assertBuilt } from '../../../core/test/helpers/built.js'

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

/** The CLI and every package it loads are built from their current sources. */
export function assertServerBuilt(): void {
  assertBuilt('server')
}

export interface LogLine {
  msg: string
  level: number
  [key: string]: unknown
}

export interface WrenProcess {
  child: ChildProcess
  logs: LogLine[]
  stderr: () => string
  /** Listening URL by transport, once the broker has started. */
  urls: Record<string, string>
  ports: Record<string, number>
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
  /** Resolves with everything written to stderr once it matches `pattern`. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<string>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stop(): Promise<void>
}

/**
 * Runs `wren` on loopback with any free ports (unless `shortcuts` is false: then `args` choose every listener)
 * and waits until it logs that the broker started.
 */
export async function startWren(args: string[] = [], { shortcuts = true } = {}): Promise<WrenProcess> {
  assertServerBuilt()
  const defaults = shortcuts ? ['--host', '127.0.0.1', '--port', '0', '--ws-port', '0'] : []
  const child = spawn(process.execPath, [CLI, ...defaults, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: LogLine[] = []
  const waiters = new Set<() => void>()
  let stderr = ''
  let buffered = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop()!
    for (const line of lines) if (line.trim()) logs.push(JSON.parse(line) as LogLine)
    for (const wake of waiters) wake()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    for (const wake of waiters) wake()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      resolve({ code, signal })
      for (const wake of waiters) wake()
    }),
  )

  const waitFor = <T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = find()
        if (found !== undefined) return done(() => resolve(found))
        if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`wren exited (${child.exitCode ?? child.signalCode}): ${stderr}`)))
        }
      }
      const timer = setTimeout(
        () => done(() => reject(new Error(`no ${what} within ${timeoutMs} ms`))),
        timeoutMs,
      )
      const done = (settle: () => void): void => {
        clearTimeout(timer)
        waiters.delete(check)
        settle()
      }
      waiters.add(check)
      check()
    })
  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> =>
    waitFor(() => logs.find(predicate), 'such log line', timeoutMs)
  const waitForStderr = (pattern: RegExp, timeoutMs = 30_000): Promise<string> =>
    waitFor(() => (pattern.test(stderr) ? stderr : undefined), `stderr matching ${pattern}`, timeoutMs)

  const wren: WrenProcess = {
    child,
    logs,
    stderr: () => stderr,
    urls: {},
    ports: {},
    waitForLog,
    waitForStderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
  try {
    // Loading the server takes seconds on a loaded machine, more in workers mode (10 s was missed at load 11).
    await waitForLog((line) => line.msg === 'broker started', 30_000)
  } catch (error) {
    await wren.stop()
    throw error
  }
  for (const line of logs) {
    if (typeof line.url === 'string' && typeof line.transport === 'string') {
      wren.urls[line.transport] = line.url
      wren.ports[line.transport] = line.port as number
    }
  }
  return wren
}

/** Runs `wren` to completion, for the cases where it must not start and for `wren passwd`; `input` is piped to stdin. */
export function runWren(
  args: string[],
  { timeoutMs = 30_000, input }: { timeoutMs?: number; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertServerBuilt()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    if (input !== undefined) child.stdin!.end(input)
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`wren ${args.join(' ')} did not exit within ${timeoutMs} ms`))
    }, timeoutMs)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** The admin listener's URL, from the line the server logs when it listens. */
export async function adminUrl(process: WrenProcess): Promise<string> {
  const line = await process.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('admin API, metrics and dashboard on '))
  return line.url as string
}
