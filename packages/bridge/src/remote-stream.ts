import { readFile, readdir } from 'node:fs/promises'
import { isIP, connect as tcpConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect, type ConnectionOptions, type SecureVersion } from 'node:tls'
import type { BridgeAddress, BridgeTls } from './options.js'

const TLS_VERSIONS: Record<NonNullable<BridgeTls['version']>, SecureVersion> = {
  'tlsv1.1': 'TLSv1.1',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.3': 'TLSv1.3',
}

async function caBundle(tls: BridgeTls): Promise<Buffer[] | undefined> {
  const files: string[] = []
  if (tls.cafile) files.push(tls.cafile)
  if (tls.capath) {
    for (const name of await readdir(tls.capath)) if (name.endsWith('.crt') || name.endsWith('.pem')) files.push(join(tls.capath, name))
  }
  return files.length === 0 ? undefined : Promise.all(files.map((file) => readFile(file)))
}

async function tlsOptions(address: Required<BridgeAddress>, tls: BridgeTls): Promise<ConnectionOptions> {
  const options: ConnectionOptions = { host: address.host, port: address.port }
  const ca = await caBundle(tls)
  if (ca) options.ca = ca
  if (tls.certfile) options.cert = await readFile(tls.certfile)
  if (tls.keyfile) options.key = await readFile(tls.keyfile)
  if (isIP(address.host) === 0) options.servername = address.host
  if (tls.insecure) options.checkServerIdentity = () => undefined
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
    socket.once(ready, () => {
      clearTimeout(timer)
      socket.removeListener('error', fail)
      socket.setNoDelay(true)
      resolve(socket)
    })
  })
}
