// What a measurement's broker needs besides a port: a TLS certificate for the TLS variants and a password file
// of known users for the password variants, made fresh in the measurement's temp dir and never kept.
import { execFileSync } from 'node:child_process'
import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Mosquitto 2.0's `mosquitto_passwd` default: `$7$` is PBKDF2-SHA512 with 101 iterations and a 12-byte salt. */
const MOSQUITTO_ITERATIONS = 101
const MOSQUITTO_SALT_BYTES = 12

/** The credentials of known user `i`; the generator derives the same ones. */
export const benchUser = (i) => ({ username: `bench-user-${i}`, password: `bench-password-${i}` })

/** A self-signed P-256 certificate for 127.0.0.1 (what a current deployment would choose over RSA-2048). */
function makeCertificate(workDir) {
  const keyFile = join(workDir, 'key.pem')
  const certFile = join(workDir, 'cert.pem')
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1',
  ], { stdio: 'ignore' })
  chmodSync(keyFile, 0o644)
  return { keyFile, certFile }
}

/** `users` lines in the format `mosquitto_passwd` writes, which Wren's password file reads as well. */
function makePasswordFile(workDir, users) {
  const lines = []
  for (let i = 0; i < users; i++) {
    const { username, password } = benchUser(i)
    const salt = randomBytes(MOSQUITTO_SALT_BYTES)
    const hash = pbkdf2Sync(password, salt, MOSQUITTO_ITERATIONS, 64, 'sha512')
    lines.push(`${username}:$7$${MOSQUITTO_ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`)
  }
  const passwordFile = join(workDir, 'passwords')
  writeFileSync(passwordFile, `${lines.join('\n')}\n`)
  return passwordFile
}

/**
 * `{ transport, tls?, passwordFile? }` for a job: `transport` is `tcp` (default), `tls` or `ws`; `passwordUsers`,
 * when set, is how many known users the password file lists.
 */
export function prepareAccess(job, workDir) {
  const transport = job.transport ?? 'tcp'
  // Mosquitto started as root reads its files as the `mosquitto` user: the run's throwaway key and password
  // file must be readable by others.
  if (transport === 'tls' || job.passwordUsers) chmodSync(workDir, 0o755)
  return {
    transport,
    ...(transport === 'tls' ? { tls: makeCertificate(workDir) } : {}),
    ...(job.passwordUsers ? { passwordFile: makePasswordFile(workDir, job.passwordUsers) } : {}),
  }
}

/** The broker script arguments (brokers/*.js) that carry `access`. */
export function accessArgs(access) {
  if (!access) return []
  return [
    ...(access.transport === 'tcp' ? [] : [`transport=${access.transport}`]),
    ...(access.tls ? [`tls-key=${access.tls.keyFile}`, `tls-cert=${access.tls.certFile}`] : []),
    ...(access.passwordFile ? [`password-file=${access.passwordFile}`] : []),
  ]
}
