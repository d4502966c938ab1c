#!/usr/bin/env node
import cluster from 'node:cluster'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { runPasswdCli } from '@wren/auth-file'
import { ConfigError, mergeConfig, readConfigFile, type ServerConfig } from './config.js'
import { StartupError } from './config-error.js'
import { ListenerError } from './listeners/open-listeners.js'
import { configFromFlags, flagHelp, flagOptions } from './flags.js'
import { createLogger } from './logger.js'
import { startServer, type RunningServer } from './server.js'
import { WORKER_STARTED, WORKER_STOP, runPrimary, workerConfig } from './workers.js'
import { relaunchWithSmallYoungGeneration } from './young-generation.js'

const USAGE = `Usage: wren [options]
       wren passwd <password-file> <username> [<password>]
       wren passwd -D <password-file> <username>

Runs a Wren MQTT 3.1.1 / 5.0 broker with TCP and WebSocket listeners.
Flags win over the keys of the config file; see docs/server.md.
"wren passwd" adds, changes or deletes (-D) a user of a password file.

Options:
${flagHelp()}
`

type Values = ReturnType<typeof parseArgs>['values']

function version(): string {
  const pkg = createRequire(import.meta.url)('../package.json') as { version: string }
  return pkg.version
}

async function loadConfig(values: Values): Promise<ServerConfig> {
  const fromFile = typeof values.config === 'string' ? await readConfigFile(values.config) : {}
  return mergeConfig(fromFile, configFromFlags(values, process.cwd()))
}

function fail(message: string, exitCode: number): never {
  process.stderr.write(`wren: ${message}\n`)
  process.exit(exitCode)
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'passwd') {
    process.exitCode = await runPasswdCli(argv.slice(1))
    return
  }
  // `pnpm start -- --port 1884` hands the `--` on: it only separates pnpm's arguments from ours.
  const args = argv[0] === '--' ? argv.slice(1) : argv
  let values: Values
  try {
    values = parseArgs({ args, options: flagOptions(), strict: true, allowPositionals: false }).values
  } catch (error) {
    fail(`${(error as Error).message}\nRun "wren --help" for the options.`, 2)
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`)
    return
  }

  relaunchWithSmallYoungGeneration()
  let config: ServerConfig
  try {
    config = await loadConfig(values)
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2)
    throw error
  }

  const logger = createLogger(config.logLevel, config.logFormat)
  if (config.workers !== undefined && cluster.isPrimary) {
    runPrimary(config, logger)
    return
  }
  const worker = cluster.worker
  const starting = startServer(worker ? workerConfig(config, worker) : config, {
    logger: worker ? logger.child({ worker: worker.id }) : logger,
  })

  // Listening for signals before the server is up: a signal during startup stops it once it is.
  let stopping = false
  const stop = (signal: NodeJS.Signals | typeof WORKER_STOP): void => {
    if (stopping) {
      // A worker gets both its primary's request and, from a terminal, the signal itself: forcing is the primary's job.
      if (worker) return
      logger.warn({ signal }, 'second signal: exiting without waiting')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'shutting down')
    setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeout }, 'shutdown timed out')
      process.exit(1)
    }, config.shutdownTimeout).unref()
    starting
      .then((server) => server.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed')
          process.exit(1)
        },
      )
  }
  if (worker) process.on('message', (message) => message === WORKER_STOP && stop(WORKER_STOP))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  // The outcome is logged by reload(); a broken file leaves the previous ones in force and the server up.
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the password and ACL files')
    starting.then((server) => server.reload()).catch(() => undefined)
  })

  let server: RunningServer
  try {
    server = await starting
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2)
    // One line naming the culprit; a stack only for what the server did not foresee.
    const known = error instanceof ListenerError || error instanceof StartupError
    const { message, code } = error as NodeJS.ErrnoException
    logger.fatal({ err: known ? { message, code } : error }, 'could not start')
    fail(known ? message : `could not start: ${message}`, 1)
  }
  if (worker) process.send?.(WORKER_STARTED)
  else process.stderr.write(`wren ${version()} is up\n${server.summary.map((line) => `  ${line}\n`).join('')}`)
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`wren: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
