import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Certificates {
  ca: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
  /** A certificate and key signed by nobody the server trusts. */
  strangerCert: string
  strangerKey: string
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (CN sensor-1), made with openssl. */
export function makeCertificates(dir: string): Certificates {
  const selfSigned = (name: string, subject: string): void =>
    openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', subject])
  selfSigned('ca', '/CN=wren test CA')
  const sign = (name: string, subject: string, extensions: string): void => {
    writeFileSync(join(dir, `${name}.ext`), extensions)
    openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject])
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat(
      ['-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`],
    ))
  }
  sign('server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  sign('client', '/CN=sensor-1', 'extendedKeyUsage=clientAuth\n')
  selfSigned('stranger', '/CN=stranger')
  const file = (name: string): string => join(dir, name)
  return {
    ca: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
    strangerCert: file('stranger.pem'),
    strangerKey: file('stranger.key'),
  }
}
