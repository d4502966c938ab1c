/**
 * A real, throwaway Mosquitto broker for tests: loopback only, a free port, its own temp dir and config file,
 * optional persistence (saved on SIGTERM, so `restart()` finds its sessions again) and extra config lines
 * (e.g. a bridge `connection` block).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../persistence-redis/test/redis-server.js'

export interface MosquittoServer {
  readonly port: number
  /** mqtt://127.0.0.1:<port> */
  readonly url: string
  readonly dir: string
  /** Everything mosquitto logged so far. */
  log(): string
  /** SIGTERM and wait: with persistence, its state is saved for `restart()`. The port refuses connections until then. */
  halt(): Promise<void>
  /** Starts it again on the same port, config and directory after `halt()`. */
  restart(): Promise<void>
  /** Stops it and removes its directory. */
  stop(): Promise<void>
}

export interface MosquittoOptions {
  persistence?: boolean
  /** Lines appended to the generated mosquitto.conf; `{dir}` is replaced by the server's directory. */
  config?: string[]
  /** A listener of its own instead of the plain one (e.g. with TLS settings); `{port}` is replaced. */
  listener?: string[]
}

const MOSQUITTO = '/usr/sbin/mosquitto'
const STARTUP_TIMEOUT_MS = 10_000

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wren-mosquitto-'))
  // Started as root, mosquitto drops to its own user, which must still be able to save its database here.
  chmodSync(dir, 0o777)
  const port = await freePort()
  const listener = (options.listener ?? [`listener {port} 127.0.0.1`, 'allow_anonymous true']).map((line) => line.replaceAll('{port}', String(port)))
  const lines = [
    'per_listener_settings false',
    ...listener,
    ...(options.persistence ? ['persistence true', `persistence_location ${dir}/`] : ['persistence false']),
    'max_queued_messages 100000',
    'log_dest stderr',
    'log_type all',
    ...(options.config ?? []).map((line) => line.replaceAll('{dir}', dir)),
    '',
  ]
  const configFile = join(dir, 'mosquitto.conf')
  writeFileSync(configFile, lines.join('\n'))
  let output = ''
  let child: ChildProcess

  const launch = (): Promise<void> =>
    new Promise((resolve, reject) => {
      child = spawn(MOSQUITTO, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
      const timer = setTimeout(() => reject(new Error(`mosquitto not ready after ${STARTUP_TIMEOUT_MS} ms:\n${output}`)), STARTUP_TIMEOUT_MS)
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (/mosquitto version \S+ running/.test(output)) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`mosquitto exited with ${code}:\n${output}`))
      })
    })

  const halt = async (): Promise<void> => {
    child.kill('SIGTERM')
    await exited(child)
  }

  await launch()
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    log: () => output,
    halt,
    restart: () => {
      output = ''
      return launch()
    },
    stop: async () => {
      await halt()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
