import { ConfigError } from './config.js'

/**
 * Loads an optional peer package's factory only when the config asks for it, so the server runs without
 * SQLite's native module or a redis client installed. `purpose` names the setting in the error.
 */
export async function loadFactory<F>(pkg: string, factoryName: string, purpose: string): Promise<F> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(pkg)) as Record<string, unknown>
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(pkg)) {
      throw new ConfigError(`${purpose} needs the package ${pkg}: install it next to @wren/server`)
    }
    throw error
  }
  const factory = mod[factoryName]
  if (typeof factory !== 'function') {
    throw new ConfigError(`${pkg} does not export ${factoryName}(): is it a matching version?`)
  }
  return factory as F
}
