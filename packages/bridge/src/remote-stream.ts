import { readFile, readdir } from 'node:fs/promises'
import { isIP, connect as tcpConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { connect as tlsConnect, type ConnectionOptions, type DetailedPeerCertificate, type SecureVersion, type TLSSocket } from 'node:tls'
import { ocspProblem } from './ocsp-response.js'
import type { BridgeAddress, BridgeTls } from './options.js'

const TLS_VERSIONS: Record<NonNullable<BridgeTls['version']>, SecureVersion> = {
  'tlsv1.1': 'TLSv1.1',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.3': 'TLSv1.3',
}

/** *.crt and *.pem, and the subject-hash names (`1a2b3c4d.0`) that c_rehash makes, which is what OpenSSL (so Mosquitto) reads. */
const CA_FILE = /\.(?:crt|pem)$|^[0-9a-f]{8}\.\d+$/

async function caBundle(tls: BridgeTls): Promise<Buffer[] | undefined> {
  const files: string[] = []
  if (tls.cafile) files.push(tls.cafile)
  if (tls.capath) {
    for (const name of await readdir(tls.capath)) if (CA_FILE.test(name)) files.push(join(tls.capath, name))
  }
  return files.length === 0 ? undefined : Promise.all(files.map((file) => readFile(file)))
}

/** `tls.connect` passes `requestOCSP` on to the TLSSocket, though its type does not list it. */
type RemoteTlsOptions = ConnectionOptions & { requestOCSP?: boolean }

/**
 * Pre-shared keys instead of certificates: the TLS 1.2 PSK suites must be asked for (Node leaves them out of its
 * default list); TLS 1.3 uses the same callback. The remote proves itself by knowing the key, so there is no
 * certificate to check.
 */
function pskOptions(identity: string, psk: string): RemoteTlsOptions {
  const key = Buffer.from(psk, 'hex')
  return { ciphers: 'PSK:ECDHE-PSK:DHE-PSK:RSA-PSK', pskCallback: () => ({ psk: key, identity }), checkServerIdentity: () => undefined }
}

async function certificateOptions(address: Required<BridgeAddress>, tls: BridgeTls): Promise<RemoteTlsOptions> {
  const options: RemoteTlsOptions = {}
  const ca = await caBundle(tls)
  if (ca) options.ca = ca
  if (tls.certfile) options.cert = await readFile(tls.certfile)
  if (tls.keyfile) options.key = await readFile(tls.keyfile)
  if (isIP(address.host) === 0) options.servername = address.host
  if (tls.insecure) options.checkServerIdentity = () => undefined
  if (tls.requireOcsp) options.requestOCSP = true
  return options
}

async function tlsOptions(address: Required<BridgeAddress>, tls: BridgeTls): Promise<RemoteTlsOptions> {
  const psk = tls.identity !== undefined && tls.psk !== undefined
  const options = psk ? pskOptions(tls.identity as string, tls.psk as string) : await certificateOptions(address, tls)
  if (tls.version) options.minVersion = options.maxVersion = TLS_VERSIONS[tls.version]
  if (tls.alpn) options.ALPNProtocols = [tls.alpn]
  return options
}

/** A TCP or TLS connection to one remote address; resolves once it is established (TLS: handshake done). */
export async function openRemoteStream(
  address: Required<BridgeAddress>,
  tls: BridgeTls | undefined,
  localAddress: string | undefined,
  timeoutMs: number,
): Promise<Socket> {
  const options = tls ? await tlsOptions(address, tls) : undefined
  return new Promise((resolve, reject) => {
    const tcp = tcpConnect({ host: address.host, port: address.port, localAddress })
    // TLS runs over the TCP socket opened here, so the bind address applies to it too
    const socket = options ? tlsConnect({ ...options, socket: tcp }) : tcp
    const ready = options ? 'secureConnect' : 'connect'
    const timer = setTimeout(() => socket.destroy(new Error(`no connection to ${address.host}:${address.port} within ${timeoutMs} ms`)), timeoutMs)
    const fail = (error: Error) => {
      clearTimeout(timer)
      reject(error)
    }
    socket.once('error', fail)
    let stapled: Buffer | null = null
    if (tls?.requireOcsp) socket.once('OCSPResponse', (response: Buffer | null) => (stapled = response))
    socket.once(ready, () => {
      const problem = tls?.requireOcsp ? ocspProblem(stapled, ...peerCertificates(socket as TLSSocket)) : undefined
      if (problem) {
        socket.destroy(new Error(problem))
        return
      }
      clearTimeout(timer)
      socket.removeListener('error', fail)
      socket.setNoDelay(true)
      resolve(socket)
    })
  })
}

/** The remote's certificate and its issuer (from the chain it sent, or from the trusted CAs). */
function peerCertificates(socket: TLSSocket): [X509Certificate, X509Certificate | undefined] {
  const peer = socket.getPeerCertificate(true)
  const issuer = peer.issuerCertificate as DetailedPeerCertificate | undefined
  return [new X509Certificate(peer.raw), issuer?.raw ? new X509Certificate(issuer.raw) : undefined]
}
