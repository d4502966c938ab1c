/** The codes of the errors the server throws itself (docs/errors.md); a `ListenerError` carries Node's (`EADDRINUSE`, ...). */
export const ServerErrorCode = {
  ConfigInvalid: 'WREN_CONFIG_INVALID',
  StartupFailed: 'WREN_STARTUP_FAILED',
} as const

export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode]

/** A configuration problem the user must fix: the CLI prints the message alone, without a stack (exit 2). */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = ServerErrorCode.ConfigInvalid
}

/** Something the server needs at start is not there (a Redis, a folder): the CLI prints the message alone (exit 1). */
export class StartupError extends Error {
  override name = 'StartupError'
  readonly code = ServerErrorCode.StartupFailed
}
