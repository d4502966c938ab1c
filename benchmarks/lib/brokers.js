// The brokers the harness can compare, how to start each on a loopback port, and how to install a missing one.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const MOSQUITTO = '/usr/sbin/mosquitto'

function resolvable(specifier) {
  try {
    return existsSync(fileURLToPath(import.meta.resolve(specifier)))
  } catch {
    return false
  }
}

// Read from node_modules directly: @wren/core's exports do not expose its package.json.
const packageVersion = (name) => JSON.parse(readFileSync(here(`../node_modules/${name}/package.json`), 'utf8')).version

function mosquittoVersion() {
  // `mosquitto -h` prints its version and exits non-zero.
  const { stdout } = spawnSync(MOSQUITTO, ['-h'], { encoding: 'utf8' })
  return /version (\S+)/.exec(stdout)?.[1] ?? 'unknown'
}

// Comparable limits: Wren's defaults are 100 in flight per client, and queues must not drop in a benchmark.
export function mosquittoConfig(port) {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
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

export const BROKERS = [
  {
    name: 'wren',
    label: 'Wren',
    install: 'pnpm --filter @wren/core build',
    isInstalled: () => resolvable('@wren/core'),
    version: () => {
      const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here('.'), encoding: 'utf8' }).trim()
      return `${packageVersion('@wren/core')} (${sha})`
    },
    argv: ({ port, nodeFlags }) => [process.execPath, ...nodeFlags, here('../brokers/wren.js'), String(port)],
  },
  {
    name: 'aedes',
    label: 'Aedes',
    install: 'pnpm install (aedes is a devDependency of wren-benchmarks)',
    isInstalled: () => resolvable('aedes'),
    version: () => packageVersion('aedes'),
    argv: ({ port, nodeFlags }) => [process.execPath, ...nodeFlags, here('../brokers/aedes.js'), String(port)],
  },
  {
    name: 'mosquitto',
    label: 'Mosquitto',
    install: 'apt-get install mosquitto',
    isInstalled: () => existsSync(MOSQUITTO),
    version: mosquittoVersion,
    argv: ({ port, workDir }) => {
      const config = join(workDir, `mosquitto-${port}.conf`)
      writeFileSync(config, mosquittoConfig(port))
      return [MOSQUITTO, '-c', config]
    },
  },
]
