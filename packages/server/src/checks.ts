import { resolve } from 'node:path'
import { optionRuleProblem, type OptionRule } from '@wren/core'
import { ConfigError } from './config-error.js'

/** Checks one setting's value; `label` names where it came from (`--port`, `"port" in wren.json`). */
export type Check<T> = (value: unknown, label: string, baseDir: string) => T

export const describe = (value: unknown): string => (typeof value === 'string' ? `"${value}"` : JSON.stringify(value))

export function integer(min: number, max: number): Check<number> {
  return fromRule({ type: 'integer', min, max })
}

/** A check from one of the core's option rules: the server refuses exactly what `createBroker` would. */
export function fromRule<T>(rule: OptionRule): Check<T> {
  return (value, label) => {
    const problem = optionRuleProblem(rule, value)
    if (problem !== undefined) throw new ConfigError(`${label} ${problem}`)
    return value as T
  }
}

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return fromRule<T>({ type: 'enum', values })
}

export function nonEmptyString(value: unknown, label: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(`${label} must be a non-empty string, got ${describe(value)}`)
  }
  return value
}

export function boolean(value: unknown, label: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`${label} must be true or false, got ${describe(value)}`)
  return value
}

export function wsPath(value: unknown, label: string): string {
  const path = nonEmptyString(value, label)
  if (!path.startsWith('/')) throw new ConfigError(`${label} must start with "/", got ${describe(value)}`)
  return path
}

/** A file named in the config: a relative path is taken from `baseDir`. */
export function filePath(value: unknown, label: string, baseDir: string): string {
  return resolve(baseDir, nonEmptyString(value, label))
}

export const port = integer(-1, 65535)

export function redisUrl(value: unknown, label: string): string {
  const url = nonEmptyString(value, label)
  if (!url.startsWith('redis://') && !url.startsWith('rediss://')) {
    throw new ConfigError(`${label} must be a redis URL (redis://host:port[/db]), got ${describe(url)}`)
  }
  try {
    new URL(url)
  } catch {
    throw new ConfigError(`${label}: ${describe(url)} is not a valid redis URL`)
  }
  return url
}

/** A list of origins: a JSON array, or one comma-separated string (as a flag gives it). */
export const origins: Check<string[]> = (value, label) => {
  const list = typeof value === 'string' ? value.split(',').map((origin) => origin.trim()) : value
  if (!Array.isArray(list) || list.length === 0 || !list.every((origin) => typeof origin === 'string' && origin.length > 0)) {
    throw new ConfigError(`${label} must be a list of origins such as https://app.example, got ${describe(value)}`)
  }
  return list as string[]
}
