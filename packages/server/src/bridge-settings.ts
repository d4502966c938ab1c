import { resolve } from 'node:path'
import type { BridgeOptions, BridgeTls } from '@wren/bridge'
import { ConfigError } from './config-error.js'

const TLS_FILES = ['cafile', 'capath', 'certfile', 'keyfile'] as const

/** Certificate paths of a bridge in a config file are taken from the file's directory, as the server's own. */
function withBaseDir(options: BridgeOptions, baseDir: string): BridgeOptions {
  if (!options.tls) return options
  const tls: BridgeTls = { ...options.tls }
  for (const key of TLS_FILES) if (typeof tls[key] === 'string') tls[key] = resolve(baseDir, tls[key])
  return { ...options, tls }
}

/**
 * The `bridges` config key: an array of `@wren/bridge` options. Their values are checked at start, when the
 * optional `@wren/bridge` is loaded (see bridges.ts).
 */
export function bridgesSetting(value: unknown, label: string, baseDir: string): BridgeOptions[] {
  if (!Array.isArray(value)) throw new ConfigError(`${label} must be an array of bridges, got ${JSON.stringify(value)}`)
  return value.map((entry: unknown, index) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new ConfigError(`${label}[${index}] must be an object (name, addresses, topics, ...), got ${JSON.stringify(entry)}`)
    }
    return withBaseDir(entry as BridgeOptions, baseDir)
  })
}
