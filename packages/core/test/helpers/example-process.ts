import { type ChildProcess, spawn } from 'node:child_process'

/** A runnable example started as a user starts it (`node index.js`), and what it has printed so far. */
export interface StartedExample<T> {
  child: ChildProcess
  /** What `ready` found in the output. */
  ready: T
  output: () => string
  exited: Promise<number | null>
}

/**
 * Starts `node <file>` with `env` added to this process's, and resolves once `ready` finds what it waits for in
 * the output so far (stdout and stderr). Kills it and rejects if it exits first or is not ready within `timeoutMs`.
 */
export function startExample<T>(
  file: string,
  env: Record<string, string>,
  ready: (output: string) => T | undefined,
  timeoutMs = 30_000,
): Promise<StartedExample<T>> {
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let output = ''
  let started = false
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(error)
    }
    const timer = setTimeout(() => fail(new Error(`the example did not start within ${timeoutMs / 1000} s:\n${output}`)), timeoutMs)
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      if (started) return
      const found = ready(output)
      if (found === undefined) return
      started = true
      clearTimeout(timer)
      resolve({ child, ready: found, output: () => output, exited })
    })
    void exited.then((code) => {
      if (!started) fail(new Error(`the example exited with ${code}:\n${output}`))
    })
  })
}

/** The port an example prints as "... on port N", once it has. */
export function printedPort(pattern: RegExp): (output: string) => number | undefined {
  return (output) => {
    const port = pattern.exec(output)?.[1]
    return port === undefined ? undefined : Number(port)
  }
}
