#!/usr/bin/env node
import { createRequire } from 'node:module'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ConfigError, mergeConfig, readConfigFile, validatePartialConfig, type ServerConfig } from './config.js'
import { createLogger } from './logger.js'
import { startServer } from './server.js'

const USAGE = `Usage: wren [options]

Runs a Wren MQTT 3.1.1 / 5.0 broker with TCP and WebSocket listeners.
Flags win over the keys of the config file; see docs/server.md.

Options:
  -c, --config <file>          JSON config file (keys: host, port, wsPort, tlsPort, persistence, ...)
      --host <addr>            address to bind every listener to (default 0.0.0.0)
  -p, --port <n>               MQTT over TCP port (default 1883; 0 = any free port)
      --no-tcp                 no TCP listener (same as --port=-1)
      --ws-port <n>            MQTT over WebSocket port (default 8083; 0 = any free port)
      --no-ws                  no WebSocket listener (same as --ws-port=-1)
      --tls-port <n>           MQTT over TLS port (default off; 0 = any free port)
      --wss-port <n>           MQTT over secure WebSocket port (default off; 0 = any free port)
      --ws-path <path>         HTTP path of the WebSocket listeners (default /mqtt)
      --tls-cert <file>        PEM certificate chain for the TLS listeners
      --tls-key <file>         PEM private key for the TLS listeners
      --tls-ca <file>          PEM CA bundle: TLS clients must present a certificate it signed
      --persistence <spec>     memory (default) | sqlite:<file> | redis://host:port[/db]
      --sys-interval <s>       seconds between $SYS updates; 0 = off (default 10)
      --max-connections <n>    clients connected at once
      --max-packet-size <n>    largest packet accepted from a client, in bytes
      --log-level <level>      fatal | error | warn | info | debug | trace | silent (default info)
      --shutdown-timeout <ms>  how long a shutdown may take before exiting with an error (default 10000)
  -h, --help                   show this help
  -v, --version                show the version
`

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  'no-tcp': { type: 'boolean' },
  'ws-port': { type: 'string' },
  'no-ws': { type: 'boolean' },
  'tls-port': { type: 'string' },
  'wss-port': { type: 'string' },
  'ws-path': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  persistence: { type: 'string' },
  'sys-interval': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-packet-size': { type: 'string' },
  'log-level': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} satisfies ParseArgsConfig['options']

/** Flags that carry a config key's value, by config key. */
const VALUE_FLAGS: Partial<Record<keyof ServerConfig, keyof typeof OPTIONS>> = {
  host: 'host',
  port: 'port',
  wsPort: 'ws-port',
  tlsPort: 'tls-port',
  wssPort: 'wss-port',
  wsPath: 'ws-path',
  tlsCert: 'tls-cert',
  tlsKey: 'tls-key',
  tlsCa: 'tls-ca',
  persistence: 'persistence',
  sysInterval: 'sys-interval',
  maxConnections: 'max-connections',
  maxPacketSize: 'max-packet-size',
  logLevel: 'log-level',
  shutdownTimeout: 'shutdown-timeout',
}

const NUMERIC_KEYS = new Set<keyof ServerConfig>([
  'port',
  'wsPort',
  'tlsPort',
  'wssPort',
  'sysInterval',
  'maxConnections',
  'maxPacketSize',
  'shutdownTimeout',
])

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values']

/** Flag values as config values: whole numbers become numbers, anything else is left for validation to reject. */
function configFromFlags(values: Values): Partial<ServerConfig> {
  const raw: Record<string, unknown> = {}
  const flagFor: Record<string, string> = {}
  for (const [key, flag] of Object.entries(VALUE_FLAGS)) {
    const value = values[flag]
    if (typeof value !== 'string') continue
    flagFor[key] = `--${flag}`
    raw[key] = NUMERIC_KEYS.has(key as keyof ServerConfig) && /^-?\d+$/.test(value) ? Number(value) : value
  }
  for (const [flag, key] of [['no-tcp', 'port'], ['no-ws', 'wsPort']] as const) {
    if (!values[flag]) continue
    flagFor[key] = `--${flag}`
    raw[key] = -1
  }
  return validatePartialConfig(raw, (key) => flagFor[key] ?? key, process.cwd())
}

function version(): string {
  const pkg = createRequire(import.meta.url)('../package.json') as { version: string }
  return pkg.version
}

async function loadConfig(values: Values): Promise<ServerConfig> {
  const fromFile = values.config === undefined ? {} : await readConfigFile(values.config)
  return mergeConfig(fromFile, configFromFlags(values))
}

function fail(message: string, exitCode: number): never {
  process.stderr.write(`wren: ${message}\n`)
  process.exit(exitCode)
}

async function main(argv: string[]): Promise<void> {
  let values: Values
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values
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

  let config: ServerConfig
  try {
    config = await loadConfig(values)
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2)
    throw error
  }

  const logger = createLogger(config.logLevel)
  const starting = startServer(config, { logger })

  // Listening for signals before the server is up: a signal during startup stops it once it is.
  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
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
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)

  try {
    await starting
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2)
    logger.fatal({ err: error }, 'could not start')
    process.exit(1)
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`wren: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
