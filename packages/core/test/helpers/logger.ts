import type { Logger } from '../../src/index.js'

export interface CapturingLogger extends Logger {
  warnings: string[]
  errors: string[]
}

/** A logger that keeps the messages of its warn and error calls. */
export function capturingLogger(): CapturingLogger {
  const warnings: string[] = []
  const errors: string[] = []
  return {
    warnings,
    errors,
    debug: () => {},
    info: () => {},
    warn: (_obj, msg) => warnings.push(msg ?? ''),
    error: (_obj, msg) => errors.push(msg ?? ''),
  }
}
