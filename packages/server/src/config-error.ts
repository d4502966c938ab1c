/** A configuration problem the user must fix: the CLI prints the message alone, without a stack (exit 2). */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Something the server needs at start is not there (a Redis, a folder): the CLI prints the message alone (exit 1). */
export class StartupError extends Error {
  override name = 'StartupError'
}
