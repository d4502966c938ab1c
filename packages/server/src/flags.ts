import type { ParseArgsConfig } from 'node:util'
import { validatePartialConfig } from './config.js'
import { SETTINGS, SETTING_NAMES, type ServerConfig, type Setting } from './settings.js'

type FlagOptions = NonNullable<ParseArgsConfig['options']>
type FlagValues = Record<string, string | boolean | Array<string | boolean> | undefined>

/** Flags that are not settings: they choose what the command does, or switch a listener off. */
const COMMAND_FLAGS = [
  { flag: 'config', short: 'c', arg: '<file>', doc: 'JSON config file (its keys are the settings below; see docs/server.md)' },
  { flag: 'no-tcp', doc: 'no TCP listener (same as --port=-1)', off: 'port' },
  { flag: 'no-ws', doc: 'no WebSocket listener (same as --ws-port=-1)', off: 'wsPort' },
  { flag: 'help', short: 'h', doc: 'show this help' },
  { flag: 'version', short: 'v', doc: 'show the version' },
] as const

const settingsWithFlags = (): Array<[keyof ServerConfig, Setting<unknown, unknown> & { flag: string }]> =>
  SETTING_NAMES.flatMap((name) => {
    const spec = SETTINGS[name] as Setting<unknown, unknown>
    return spec.flag === undefined ? [] : [[name, spec as Setting<unknown, unknown> & { flag: string }]]
  })

/** The `parseArgs` options: one per setting with a flag, and the command's own. */
export function flagOptions(): FlagOptions {
  const options: FlagOptions = {}
  for (const [, spec] of settingsWithFlags()) {
    options[spec.flag] = { type: spec.kind === 'switch' ? 'boolean' : 'string', ...(spec.short ? { short: spec.short } : {}) }
  }
  for (const command of COMMAND_FLAGS) {
    options[command.flag] = { type: 'arg' in command ? 'string' : 'boolean', ...('short' in command ? { short: command.short } : {}) }
  }
  return options
}

function fromText(kind: Setting<unknown, unknown>['kind'], text: string): unknown {
  if (kind === 'number' && /^-?\d+$/.test(text)) return Number(text)
  if (kind === 'boolean' && (text === 'true' || text === 'false')) return text === 'true'
  return text
}

/** Flag values as config values, checked and named after their flags (`--port must be ...`). */
export function configFromFlags(values: FlagValues, baseDir: string): Partial<ServerConfig> {
  const raw: Record<string, unknown> = {}
  const flagFor: Record<string, string> = {}
  for (const [name, spec] of settingsWithFlags()) {
    const value = values[spec.flag]
    if (value === undefined || value === false) continue
    flagFor[name] = `--${spec.flag}`
    raw[name] = typeof value === 'string' ? fromText(spec.kind, value) : value
  }
  for (const command of COMMAND_FLAGS) {
    if (!('off' in command) || !values[command.flag]) continue
    flagFor[command.off] = `--${command.flag}`
    raw[command.off] = -1
  }
  return validatePartialConfig(raw, (key) => flagFor[key] ?? key, baseDir)
}

function helpLine(flag: string, short: string | undefined, arg: string | undefined, doc: string): string {
  const name = `${short ? `-${short}, ` : '    '}--${flag}${arg ? ` ${arg}` : ''}`
  return `  ${name.padEnd(40)} ${doc}`
}

/** The options part of `--help`, from the same table as parsing and validation. */
export function flagHelp(): string {
  const lines = COMMAND_FLAGS.filter((command) => command.flag === 'config').map((command) =>
    helpLine(command.flag, command.short, command.arg, command.doc),
  )
  for (const [name, spec] of settingsWithFlags()) {
    lines.push(helpLine(spec.flag, spec.short, spec.arg, spec.doc))
    const off = COMMAND_FLAGS.find((command) => 'off' in command && command.off === name)
    if (off) lines.push(helpLine(off.flag, undefined, undefined, off.doc))
  }
  for (const command of COMMAND_FLAGS.filter((command) => command.flag === 'help' || command.flag === 'version')) {
    lines.push(helpLine(command.flag, command.short, undefined, command.doc))
  }
  return lines.join('\n')
}
