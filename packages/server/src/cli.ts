#!/usr/bin/env node
import cluster from 'node:cluster'
import { createRequire } from 'node:module'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { runPasswdCli } from '@wren/auth-file'
import { ConfigError, mergeConfig, readConfigFile, validatePartialConfig, type ServerConfig } from './config.js'
import { createLogger } from './logger.js'
import { startServer } from './server.js'
import { WORKER_STARTED, WORKER_STOP, runPrimary, workerConfig } from './workers.js'

const USAGE = `Usage: wren [options]
       wren passwd <password-file> <username> [<password>]
       wren passwd -D <password-file> <username>

Runs a Wren MQTT 3.1.1 / 5.0 broker with TCP and WebSocket listeners.
Flags win over the keys of the config file; see docs/server.md.
"wren passwd" adds, changes or deletes (-D) a user of a password file.

Options:
  -c, --config <file>           JSON config file (keys: host, port, wsPort, tlsPort, persistence, ...)
      --host <addr>             address to bind every listener to (default 0.0.0.0 with authentication,
                                127.0.0.1 without)
  -p, --port <n>                MQTT over TCP port (default 1883; 0 = any free port)
      --no-tcp                  no TCP listener (same as --port=-1)
      --ws-port <n>             MQTT over WebSocket port (default 8083; 0 = any free port)
      --no-ws                   no WebSocket listener (same as --ws-port=-1)
      --ws-path <path>          HTTP path of the WebSocket listeners (default /mqtt)
      --ws-origins <list>       comma-separated browser origins allowed on the WebSocket listeners (default any)
      --tls-port <n>            MQTT over TLS port (default off; 0 = any free port)
      --wss-port <n>            MQTT over secure WebSocket port (default off; 0 = any free port)
      --cert <file>             PEM certificate chain for the TLS listeners
      --key <file>              PEM private key for the TLS listeners
      --ca <file>               PEM CA bundle that client certificates are verified against
      --require-client-cert     refuse TLS clients without a certificate signed by --ca
      --cert-cn-as-username     log TLS clients with a verified certificate in as its CN, without a password
      --password-file <file>    clients must log in as a user of this file (see "wren passwd")
      --acl-file <file>         Mosquitto ACL file: what each client may publish, subscribe to and receive
                                (SIGHUP reads both files again)
      --allow-anonymous         let clients without a user name in (needed to bind a public --host without auth)
      --trust-client-usernames  allow --acl-file without --password-file: the user names clients send are believed
      --bridge-file <file>      Mosquitto bridge blocks (connection <name>, address, topic ...): bridges to other brokers
      --persistence <spec>      memory (default) | sqlite:<file> | redis://host:port[/db]
      --cluster <url>           join the cluster on this Redis (redis://host:port[/db]; needs @wren/cluster-redis);
                                persistence defaults to the same Redis
      --node-id <id>            this node's id in the cluster (default generated)
      --workers <n|auto>        fork n worker processes sharing the ports (auto = one per CPU); needs --cluster
      --sys-interval <s>        seconds between $SYS updates; 0 = off (default 10)
      --max-connections <n>     clients connected at once
      --max-packet-size <n>     largest packet accepted from a client, in bytes
      --max-queued <n>          QoS 1/2 messages held for one client, queued and in flight (default 1000)
      --max-inflight <n>        QoS 1/2 messages in flight to one client (default 100)
      --max-publish-rate <n>    PUBLISH packets per second and client; 0 = no limit (default 0)
      --max-subscriptions <n>   subscriptions one client may hold (default 10000)
      --connect-timeout <ms>    time a new connection has to send CONNECT (default 10000)
      --log-level <level>       fatal | error | warn | info | debug | trace | silent (default info)
      --shutdown-timeout <ms>   how long a shutdown may take before exiting with an error (default 10000)
  -h, --help                    show this help
  -v, --version                 show the version
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
  'ws-origins': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  'require-client-cert': { type: 'boolean' },
  'cert-cn-as-username': { type: 'boolean' },
  'password-file': { type: 'string' },
  'acl-file': { type: 'string' },
  'allow-anonymous': { type: 'boolean' },
  'trust-client-usernames': { type: 'boolean' },
  'bridge-file': { type: 'string' },
  persistence: { type: 'string' },
  cluster: { type: 'string' },
  'node-id': { type: 'string' },
  workers: { type: 'string' },
  'sys-interval': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-packet-size': { type: 'string' },
  'max-queued': { type: 'string' },
  'max-inflight': { type: 'string' },
  'max-publish-rate': { type: 'string' },
  'max-subscriptions': { type: 'string' },
  'connect-timeout': { type: 'string' },
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
  wsOrigins: 'ws-origins',
  cert: 'cert',
  key: 'key',
  ca: 'ca',
  passwordFile: 'password-file',
  aclFile: 'acl-file',
  bridgeFile: 'bridge-file',
  persistence: 'persistence',
  cluster: 'cluster',
  nodeId: 'node-id',
  workers: 'workers',
  sysInterval: 'sys-interval',
  maxConnections: 'max-connections',
  maxPacketSize: 'max-packet-size',
  maxQueued: 'max-queued',
  maxInflight: 'max-inflight',
  maxPublishRate: 'max-publish-rate',
  maxSubscriptions: 'max-subscriptions',
  connectTimeout: 'connect-timeout',
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
  'maxQueued',
  'maxInflight',
  'maxPublishRate',
  'maxSubscriptions',
  'connectTimeout',
  'shutdownTimeout',
  'workers',
])

/** Flags that switch a config key on. */
const SWITCH_FLAGS: Partial<Record<keyof ServerConfig, keyof typeof OPTIONS>> = {
  requireClientCert: 'require-client-cert',
  certCnAsUsername: 'cert-cn-as-username',
  allowAnonymous: 'allow-anonymous',
  trustClientUsernames: 'trust-client-usernames',
}

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
  for (const [key, flag] of Object.entries(SWITCH_FLAGS)) {
    if (!values[flag]) continue
    flagFor[key] = `--${flag}`
    raw[key] = true
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
  if (argv[0] === 'passwd') {
    process.exitCode = await runPasswdCli(argv.slice(1))
    return
  }
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

  try {
    await starting
    if (worker) process.send?.(WORKER_STARTED)
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
