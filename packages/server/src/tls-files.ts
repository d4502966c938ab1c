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
 */
export async function readTlsFiles(config: ServerConfig): Promise<TlsOptions | undefined> {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined
  const [cert, key, ca] = await Promise.all([
    readPem(config.tlsCert, 'tlsCert'),
    readPem(config.tlsKey, 'tlsKey'),
    config.tlsCa === undefined ? undefined : readPem(config.tlsCa, 'tlsCa'),
  ])
  const options: TlsOptions = ca ? { cert, key, ca, requestCert: true, rejectUnauthorized: true } : { cert, key }
  try {
    createSecureContext(options)
  } catch (error) {
    throw new ConfigError(`tlsCert, tlsKey or tlsCa is not usable: ${(error as Error).message}`)
  }
  return options
}
