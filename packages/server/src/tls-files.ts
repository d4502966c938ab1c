import { readFile } from 'node:fs/promises'
import { createSecureContext, type TlsOptions } from 'node:tls'
import { ConfigError, type ServerConfig } from './config.js'

async function readPem(path: string, key: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message
    throw new ConfigError(`cannot read ${key} file ${path}: ${reason}`)
  }
}

/**
 * The TLS listeners' options from the configured PEM files, checked before anything listens:
 * a wrong key or a broken file stops the server at start, not at a client's first handshake.
 *
 * With a CA, client certificates are asked for and verified. Without `requireClientCert` the handshake
 * also admits clients that present none or one that does not verify; only a verified certificate reaches
 * the hooks (see `connectionMeta`), so those clients are treated as having none.
 */
export async function readTlsFiles(config: ServerConfig): Promise<TlsOptions | undefined> {
  if (config.cert === undefined || config.key === undefined) return undefined
  const [cert, key, ca] = await Promise.all([
    readPem(config.cert, 'cert'),
    readPem(config.key, 'key'),
    config.ca === undefined ? undefined : readPem(config.ca, 'ca'),
  ])
  const options: TlsOptions = ca
    ? { cert, key, ca, requestCert: true, rejectUnauthorized: config.requireClientCert }
    : { cert, key }
  try {
    createSecureContext(options)
  } catch (error) {
    throw new ConfigError(`cert, key or ca is not usable: ${(error as Error).message}`)
  }
  return options
}
