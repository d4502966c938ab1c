import { pino, type Logger } from 'pino'
import type { LogFormat, LogLevel } from './config.js'
import { prettyLine } from './pretty-log.js'

/**
 * Structured JSON lines on stdout (or, `pretty`, one readable line per entry), written synchronously so
 * nothing is lost when the process exits.
 */
export function createLogger(level: LogLevel, format: LogFormat = 'json'): Logger {
  if (format === 'pretty') return pino({ name: 'wren', level }, { write: (line: string) => process.stdout.write(prettyLine(line)) })
  return pino({ name: 'wren', level }, pino.destination({ dest: 1, sync: true }))
}
