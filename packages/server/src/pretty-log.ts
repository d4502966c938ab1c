const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }
/** pino's own fields: shown in the line's head, or not at all. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v'])

function show(value: unknown): string {
  if (typeof value === 'string') return /\s|"/.test(value) || value === '' ? JSON.stringify(value) : value
  if (value !== null && typeof value === 'object' && 'message' in value) return JSON.stringify((value as { message: unknown }).message)
  return JSON.stringify(value)
}

/** One pino JSON line as `HH:MM:SS.mmm LEVEL message key=value ...` for a terminal. */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : ''
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${show(value)}`)
  return `${[time, LEVELS[entry.level as number] ?? String(entry.level), String(entry.msg ?? ''), ...fields].filter((part) => part !== '').join(' ')}\n`
}
