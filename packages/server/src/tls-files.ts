import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createSecureContext, type TlsOptions } from 'node:tls'
import { ConfigError } from './config-error.js'

/** The PEM files of one TLS listener (or of all, at the top level of the config). */
export interface TlsFiles {
  cert: string
  key: string
  ca?: string | undefined
  requireClientCert: boolean
}

async function readPem(path: string, key: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message
    throw new ConfigError(`cannot read ${key} file ${path}: ${reason}`)
  }
}

/** Which of the files is wrong: each is parsed alone, then the pair, so the message names the culprit. */
function checkPems(files: TlsFiles, cert: Buffer, key: Buffer, ca: Buffer | undefined): void {
  try {
    new X509Certificate(cert)
  } catch {
    throw new ConfigError(`cert ${files.cert} is not a PEM certificate`)
  }
  try {
    createPrivateKey(key)
  } catch {
    throw new ConfigError(`key ${files.key} is not a PEM private key (or it is encrypted)`)
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca)
    } catch {
      throw new ConfigError(`ca ${files.ca ?? ''} is not a PEM certificate bundle`)
    }
  }
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) })
  } catch (error) {
    const message = (error as Error).message
    if (/key values mismatch/i.test(message)) {
      throw new ConfigError(`key ${files.key} does not belong to cert ${files.cert}`)
    }
    throw new ConfigError(`cert, key or ca is not usable: ${message}`)
  }
}

/**
 * A TLS listener's options from its PEM files, checked before anything listens: a wrong key or a broken
 * file stops the server at start, not at a client's first handshake.
 *
 * With a CA, client certificates are asked for and verified. Without `requireClientCert` the handshake
 * also admits clients that present none or one that does not verify; only a verified certificate reaches
 * the hooks (see `connectionMeta`), so those clients are treated as having none.
 */
export async function readTlsFiles(files: TlsFiles): Promise<TlsOptions> {
  const [cert, key, ca] = await Promise.all([
    readPem(files.cert, 'cert'),
    readPem(files.key, 'key'),
    files.ca === undefined ? undefined : readPem(files.ca, 'ca'),
  ])
  checkPems(files, cert, key, ca)
  return ca ? { cert, key, ca, requestCert: true, rejectUnauthorized: files.requireClientCert } : { cert, key }
}
