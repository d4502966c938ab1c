// The brokers the harness can compare, how to start each on a loopback port (with the store it needs), and how
// to install a missing one.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { accessArgs } from './access.js'
import { freePort, startBroker } from './processes.js'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const MOSQUITTO = '/usr/sbin/mosquitto'
const REDIS_SERVER = '/usr/bin/redis-server'
const PERSISTENT_ONLY = ['persistent']
const ALL_TRANSPORTS = ['tcp', 'tls', 'ws']
// The standalone server and the cluster bus it loads, from the workspace: neither exports its package.json.
const SERVER_CLI = here('../../packages/server/dist/cli.js')
const CLUSTER_REDIS = here('../../packages/cluster-redis/dist/index.js')
/** The V8 flag `pnpm start` gives the standalone server: a 4 MiB semi-space instead of V8's 16 MiB. */
export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=4'
const workspaceVersion = (dir) => JSON.parse(readFileSync(here(`../../packages/${dir}/package.json`), 'utf8')).version

function resolvable(specifier) {
  try {
    return existsSync(fileURLToPath(import.meta.resolve(specifier)))
  } catch {
    return false
  }
}

// Read from node_modules directly: @wren/core's exports do not expose its package.json.
const packageVersion = (name) => JSON.parse(readFileSync(here(`../node_modules/${name}/package.json`), 'utf8')).version

function mosquittoArgv({ persistence }) {
  return ({ port, workDir, access }) => {
    const config = join(workDir, `mosquitto-${port}.conf`)
    writeFileSync(config, mosquittoConfig(port, { persistence, workDir, access }))
    return [MOSQUITTO, '-c', config]
  }
}

function redisVersion() {
  const { stdout } = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' })
  return `Redis ${/v=(\S+)/.exec(stdout)?.[1] ?? 'unknown'}`
}

function mosquittoVersion() {
  // `mosquitto -h` prints its version and exits non-zero.
  const { stdout } = spawnSync(MOSQUITTO, ['-h'], { encoding: 'utf8' })
  return /version (\S+)/.exec(stdout)?.[1] ?? 'unknown'
}

// Comparable limits: Wren's defaults are 100 in flight per client, and queues must not drop in a benchmark.
// With `persistence`, Mosquitto snapshots its state to `workDir` (at its autosave interval and on exit).
// `access` (lib/access.js) adds the listener's certificate and the password file.
export function mosquittoConfig(port, { persistence = false, workDir, access } = {}) {
  return [
    `listener ${port} 127.0.0.1`,
    ...(access?.tls ? [`certfile ${access.tls.certFile}`, `keyfile ${access.tls.keyFile}`] : []),
    ...(access?.passwordFile ? [`password_file ${access.passwordFile}`, 'allow_anonymous false'] : ['allow_anonymous true']),
    ...(persistence ? ['persistence true', `persistence_location ${workDir}/`] : ['persistence false']),
    'max_inflight_messages 100',
    'max_queued_messages 1000000',
    'max_queued_bytes 0',
    'memory_limit 0',
    'sys_interval 0',
    'log_dest stderr',
    'log_type error',
    'connection_messages false',
    '',
  ].join('\n')
}

const wrenVersion = () => {
  const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here('.'), encoding: 'utf8' }).trim()
  return `${packageVersion('@wren/core')} (${sha})`
}

/**
 * A before/after comparison in one run: `wren-base` is the Wren of another checkout (WREN_BASE, with its core
 * built), started by that checkout's own broker script so that it loads its own @wren/core.
 */
const BASE_BROKER = process.env.WREN_BASE ? join(process.env.WREN_BASE, 'benchmarks/brokers/wren.js') : null

function baseVersion() {
  const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: process.env.WREN_BASE, encoding: 'utf8' }).trim()
  return `${JSON.parse(readFileSync(join(process.env.WREN_BASE, 'packages/core/package.json'), 'utf8')).version} (${sha})`
}

const nodeBroker = (script) => ({ port, nodeFlags, storeSpec, access }) => [
  process.execPath,
  ...nodeFlags,
  here(`../brokers/${script}`),
  String(port),
  storeSpec ?? 'memory',
  ...accessArgs(access),
]

/**
 * Wren with its offline queues raised to `maxQueued` when a scenario asks (the persistent scenario's backlog), as
 * the harness runs Mosquitto with `max_queued_messages 1000000` everywhere: a drain is then compared on the same
 * number of messages. Every other limit stays at its default.
 */
const wrenBroker = ({ port, nodeFlags, storeSpec, maxQueued, access }) => [
  ...nodeBroker('wren.js')({ port, nodeFlags, storeSpec, access }),
  ...(maxQueued ? [`max-queued=${maxQueued}`] : []),
]

/** A redis-server of the measurement's own, in its temp dir, with nothing written to disk. */
export async function redisStore({ workDir }) {
  const port = await freePort()
  const server = await startBroker(
    [REDIS_SERVER, '--port', String(port), '--bind', '127.0.0.1', '--dir', workDir, '--save', '', '--appendonly', 'no'],
    port,
  )
  return { storeSpec: `redis://127.0.0.1:${port}`, pid: server.pid, stop: () => server.stop() }
}

const redisInstalled = () => existsSync(REDIS_SERVER)

/** A SQLite file in the measurement's temp dir. */
const sqliteStore = async ({ workDir }) => ({ storeSpec: `sqlite:${join(workDir, 'wren.db')}`, stop: async () => {} })

/** `wren-base` on a durable store, for the persistent scenario's before/after in one run. */
/** The base checkout's broker script, with the same store and `maxQueued` as `wren` gets, so drains compare. */
const baseBroker = ({ port, nodeFlags, storeSpec, maxQueued }) => [
  process.execPath,
  ...nodeFlags,
  BASE_BROKER,
  String(port),
  storeSpec ?? 'memory',
  ...(maxQueued ? [`max-queued=${maxQueued}`] : []),
]

function baseWithStore(name, store, services) {
  return {
    name,
    label: `Wren base ${store === 'Redis' ? 'Redis' : 'SQLite'}`,
    store,
    scenarios: PERSISTENT_ONLY,
    onRequest: true,
    install: 'WREN_BASE=<another checkout with its persistence packages built>',
    isInstalled: () => BASE_BROKER !== null && existsSync(BASE_BROKER) && (store !== 'Redis' || redisInstalled()),
    version: () => baseVersion(),
    services,
    argv: baseBroker,
  }
}

/**
 * The `wren` server in workers mode: `workers` node:cluster workers sharing the port, each a cluster node on
 * the measurement's Redis (its cluster bus and, by default, its persistence). The kernel spreads the clients
 * over the workers, so with two a publisher and the subscriber often sit on different nodes.
 */
const clusterArgv = (workers, cli) => ({ port, nodeFlags, storeSpec }) => [
  process.execPath,
  ...nodeFlags,
  cli,
  '--host', '127.0.0.1',
  '--port', String(port),
  '--no-ws',
  '--sys-interval', '0',
  '--max-queued', '1000000',
  '--log-level', 'info',
  '--cluster', storeSpec,
  '--workers', String(workers),
]

function clusterBroker(workers, baseline) {
  const cli = baseline ? join(baseline, 'packages/server/dist/cli.js') : SERVER_CLI
  return {
    name: `wren-cluster-${workers}${baseline ? '-base' : ''}`,
    label: `Wren ${workers} worker${workers === 1 ? '' : 's'}${baseline ? ' (baseline build)' : ''}`,
    store: 'Redis (cluster bus and persistence)',
    scenarios: ['fan-in', 'fan-out'],
    onRequest: true,
    install: 'pnpm --filter @wren/server... build; apt-get install redis-server',
    isInstalled: () => existsSync(cli) && existsSync(CLUSTER_REDIS) && redisInstalled(),
    version: () =>
      `${wrenVersion()}, server ${workspaceVersion('server')}, cluster-redis ${workspaceVersion('cluster-redis')}, ${redisVersion()}`,
    services: redisStore,
    // Printed by the workers primary once every worker is listening and joined.
    readyLine: 'all workers started',
    // Forking and joining the workers takes more than the default 10 s on a loaded machine.
    startTimeoutMs: 60_000,
    // Subscriptions reach the other nodes through Redis pub/sub: publishing at once would race them.
    settleMs: 500,
    argv: clusterArgv(workers, cli),
  }
}

/**
 * Every broker the harness can start. `store` is where it keeps sessions and queued messages. `scenarios`, when present, limits a broker to those scenarios: the
 * persistence variants are only worth running where a persistent session makes the store do work.
 * `services({ workDir })`, when present, starts what the broker needs and returns
 * `{ storeSpec, stop }`; `storeSpec` goes to the broker script (brokers/*.js) as its store argument.
 * `readyLine`, when present, is what the broker prints on stdout once it can be measured; `settleMs` is how
 * long the flow scenarios wait between their subscriptions and the first publish. An `onRequest` broker runs
 * only when --brokers names it.
 */
export const BROKERS = [
  {
    name: 'wren',
    label: 'Wren',
    store: 'memory',
    transports: ALL_TRANSPORTS,
    passwords: true,
    install: 'pnpm --filter @wren/core build',
    isInstalled: () => resolvable('@wren/core'),
    version: wrenVersion,
    argv: wrenBroker,
  },
  {
    name: 'wren-base',
    label: 'Wren base',
    store: 'memory',
    onRequest: true,
    install: 'WREN_BASE=<another checkout, e.g. a git worktree of main, with @wren/core built>',
    isInstalled: () => BASE_BROKER !== null && existsSync(BASE_BROKER),
    version: () => baseVersion(),
    argv: baseBroker,
  },
  baseWithStore('wren-base-sqlite', 'SQLite file', sqliteStore),
  baseWithStore('wren-base-redis', 'Redis', redisStore),
  {
    name: 'aedes',
    label: 'Aedes',
    store: 'memory',
    // Aedes 1.x refuses MQTT 5 connections.
    maxProtocolVersion: 4,
    transports: ALL_TRANSPORTS,
    install: 'pnpm install (aedes is a devDependency of wren-benchmarks)',
    isInstalled: () => resolvable('aedes'),
    version: () => packageVersion('aedes'),
    argv: nodeBroker('aedes.js'),
  },
  {
    name: 'mosquitto',
    label: 'Mosquitto',
    store: 'memory',
    // Debian's Mosquitto 2.0 is built without libwebsockets: its `protocol websockets` listener fails to start.
    transports: ['tcp', 'tls'],
    passwords: true,
    install: 'apt-get install mosquitto',
    isInstalled: () => existsSync(MOSQUITTO),
    version: mosquittoVersion,
    argv: mosquittoArgv({ persistence: false }),
  },
  {
    // Not a broker: a Node server that answers CONNECT and holds the socket, so the connection scenarios show in
    // the same run what any Node server pays per connection before broker code runs (docs/performance.md).
    name: 'node-floor',
    label: 'Node floor',
    store: 'none',
    floor: true,
    scenarios: ['connections', 'connect-storm'],
    transports: ALL_TRANSPORTS,
    install: 'pnpm install (ws is a devDependency of wren-benchmarks)',
    isInstalled: () => resolvable('ws'),
    version: () => `Node ${process.version}`,
    argv: nodeBroker('node-floor.js'),
  },
  {
    name: 'wren-sqlite',
    label: 'Wren SQLite',
    store: 'SQLite file',
    scenarios: PERSISTENT_ONLY,
    install: 'pnpm --filter @wren/persistence-sqlite... build',
    isInstalled: () => resolvable('@wren/core') && resolvable('@wren/persistence-sqlite'),
    version: () => `${wrenVersion()}, persistence-sqlite ${packageVersion('@wren/persistence-sqlite')}`,
    services: sqliteStore,
    argv: wrenBroker,
  },
  {
    name: 'wren-redis',
    label: 'Wren Redis',
    store: 'Redis',
    scenarios: PERSISTENT_ONLY,
    install: 'pnpm --filter @wren/persistence-redis... build; apt-get install redis-server',
    isInstalled: () => resolvable('@wren/core') && resolvable('@wren/persistence-redis') && redisInstalled(),
    version: () => `${wrenVersion()}, persistence-redis ${packageVersion('@wren/persistence-redis')}, ${redisVersion()}`,
    services: redisStore,
    argv: wrenBroker,
  },
  {
    name: 'aedes-redis',
    label: 'Aedes Redis',
    store: 'Redis',
    scenarios: PERSISTENT_ONLY,
    install: 'pnpm install (aedes-persistence-redis is a devDependency of wren-benchmarks); apt-get install redis-server',
    isInstalled: () => resolvable('aedes') && resolvable('aedes-persistence-redis') && redisInstalled(),
    version: () => `${packageVersion('aedes')}, aedes-persistence-redis ${packageVersion('aedes-persistence-redis')}, ${redisVersion()}`,
    services: redisStore,
    argv: nodeBroker('aedes.js'),
  },
  {
    name: 'mosquitto-persist',
    label: 'Mosquitto persist',
    store: 'memory, snapshot file',
    scenarios: PERSISTENT_ONLY,
    install: 'apt-get install mosquitto',
    isInstalled: () => existsSync(MOSQUITTO),
    version: mosquittoVersion,
    argv: mosquittoArgv({ persistence: true }),
  },
  {
    name: 'wren-metrics',
    label: 'Wren + metrics',
    store: 'memory',
    scenarios: ['fan-in', 'fan-out'],
    onRequest: true,
    install: 'pnpm --filter @wren/observability... build',
    isInstalled: () => resolvable('@wren/core') && resolvable('@wren/observability'),
    version: () => `${wrenVersion()}, observability ${workspaceVersion('observability')}`,
    argv: ({ port, nodeFlags }) => [...nodeBroker('wren.js')({ port, nodeFlags }), 'metrics'],
  },
  {
    // What `pnpm start` runs: the same broker with V8's young generation capped (see docs/flow-control.md).
    name: 'wren-young4',
    label: 'Wren semi-space 4 MiB',
    store: 'memory',
    onRequest: true,
    install: 'pnpm --filter @wren/core build',
    isInstalled: () => resolvable('@wren/core'),
    version: wrenVersion,
    transports: ALL_TRANSPORTS,
    passwords: true,
    argv: (options) => wrenBroker({ ...options, nodeFlags: [YOUNG_GENERATION_FLAG, ...options.nodeFlags] }),
  },
  {
    // The `wren` command as installed, at its defaults: on Node 22.15 and later it caps V8's young generation itself.
    name: 'wren-server',
    label: 'wren command',
    store: 'memory',
    onRequest: true,
    install: 'pnpm --filter @wren/server... build',
    isInstalled: () => existsSync(SERVER_CLI),
    version: () => `${wrenVersion()}, server ${workspaceVersion('server')}, Node ${process.version}`,
    // It loads the whole server, twice where it re-executes itself: more than 10 s on a loaded machine.
    startTimeoutMs: 30_000,
    argv: ({ port, nodeFlags, maxQueued }) => [
      process.execPath,
      ...nodeFlags,
      SERVER_CLI,
      ...['--host', '127.0.0.1', '--port', String(port), '--no-ws', '--sys-interval', '0'],
      ...(maxQueued ? ['--max-queued', String(maxQueued)] : []),
    ],
  },
  clusterBroker(1),
  clusterBroker(2),
  // WREN_BENCH_BASELINE=<another checkout, built>: the same cluster from that build, for before/after in one run.
  ...(process.env.WREN_BENCH_BASELINE ? [clusterBroker(2, process.env.WREN_BENCH_BASELINE)] : []),
]

/**
 * Whether `broker` takes part in `variant` (see `scenarios` above). A TLS or WebSocket variant runs on the brokers
 * whose `transports` list it, a password variant on those with `passwords`; every broker serves plain TCP.
 */
export const runsVariant = (broker, variant) =>
  (!broker.scenarios || broker.scenarios.includes(variant.scenario)) &&
  (variant.job.protocolVersion ?? 4) <= (broker.maxProtocolVersion ?? 5) &&
  (broker.transports ?? ['tcp']).includes(variant.job.transport ?? 'tcp') &&
  (!variant.job.passwordUsers || broker.passwords === true)
