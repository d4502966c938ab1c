import { resolve } from 'node:path'
import { ConfigError } from './config-error.js'

/**
 * One entry of the `bridges` key: the options of `@wren/bridge`'s `createBridge`, as JSON. Typed loosely here so
 * the server's types do not need the optional `@wren/bridge`; the values are checked at start, when it is loaded.
 */
export type BridgeConfig = Record<string, unknown>

const TLS_FILES = ['cafile', 'capath', 'certfile', 'keyfile'] as const

/** Certificate paths of a bridge in a config file are taken from the file's directory, as the server's own. */
function withBaseDir(options: BridgeConfig, baseDir: string): BridgeConfig {
  const given = options.tls
  if (given === null || typeof given !== 'object') return options
  const tls: Record<string, unknown> = { ...given }
  for (const key of TLS_FILES) {
    const file = tls[key]
    if (typeof file === 'string') tls[key] = resolve(baseDir, file)
  }
  return { ...options, tls }
}

/** The `bridges` config key: an array of bridges (see bridges.ts for when their values are checked). */
export function bridgesSetting(value: unknown, label: string, baseDir: string): BridgeConfig[] {
  if (!Array.isArray(value)) throw new ConfigError(`${label} must be an array of bridges, got ${JSON.stringify(value)}`)
  return value.map((entry: unknown, index) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new ConfigError(`${label}[${index}] must be an object (name, addresses, topics, ...), got ${JSON.stringify(entry)}`)
    }
    return withBaseDir(entry as BridgeConfig, baseDir)
  })
}
