import { pino, type Logger } from 'pino'
import type { LogLevel } from './config.js'

/** Structured JSON lines on stdout, written synchronously so nothing is lost when the process exits. */
export function createLogger(level: LogLevel): Logger {
  return pino({ name: 'wren', level }, pino.destination({ dest: 1, sync: true }))
}
