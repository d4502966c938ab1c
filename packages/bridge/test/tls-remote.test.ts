/**
 * TLS to the remote broker: a CA file or directory, a client certificate, TLS-PSK against a real Mosquitto
 * started with those listeners, and OCSP stapling against a TLS server of the test's own (Mosquitto cannot
 * staple), with responses made by openssl.
 */
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { Broker } from '@wren/core'
import type { IClientOptions } from 'mqtt'
import { connectClient, uniqueId } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { makeCertificates, type Certificates } from '../../server/test/helpers/certificates.js'
import { Bridge, type BridgeTls } from '../src/index.js'
import { bridgeState, connectedBridge, tcpProxy } from './helpers.js'
import { startMosquitto, type MosquittoServer } from './mosquitto-server.js'

const text = (m: { topic: string; payload: Buffer }) => `${m.topic}=${m.payload.toString()}`

/** One set of certificates for the file, in a temp dir Mosquitto (which drops root for its own user) can read. */
let dir: string
let certs: Certificates
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wren-bridge-tls-'))
  certs = makeCertificates(dir)
  chmodSync(dir, 0o755)
  for (const name of readdirSync(dir)) chmodSync(join(dir, name), 0o644)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function mosquittoWith(listener: string[]): Promise<MosquittoServer> {
  const mosquitto = await startMosquitto({ listener: ['listener {port} 127.0.0.1', ...listener, 'allow_anonymous true'] })
  onTestFinished(() => mosquitto.stop())
  return mosquitto
}

/** A bridge that must fail: resolves with the reason of its first failed attempt. */
async function failure(broker: Broker, port: number, tlsOptions: BridgeTls): Promise<string> {
  const bridge = new Bridge(broker, { name: uniqueId('refused'), addresses: [`127.0.0.1:${port}`], tls: tlsOptions, restartTimeout: 60, topics: [{ pattern: 'x' }] })
  onTestFinished(() => bridge.stop())
  const failed = new Promise<string>((resolve) => bridge.once('disconnected', (reason) => resolve(reason)))
  await bridge.start()
  return failed
}

/** Publishes on the local broker and expects the message at a subscriber of the remote. */
async function forwards(localUrl: string, remote: Awaited<ReturnType<typeof connectClient>>, topic: string): Promise<void> {
  await remote.client.subscribeAsync(`${topic}/#`, { qos: 1 })
  const local = await connectClient(localUrl)
  await local.client.publishAsync(`${topic}/x`, 'secret', { qos: 1 })
  expect(text(await remote.inbox.next())).toBe(`${topic}/x=secret`)
}

describe('TLS to a Mosquitto remote', () => {
  it('verifies the remote certificate against bridge_cafile, comes back after a cut, and refuses a remote signed by someone else', async () => {
    const mosquitto = await mosquittoWith([`certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`])
    const wren = await startBroker()
    const topic = uniqueId('tls')
    await connectedBridge(wren.broker, mosquitto.port, { tls: { cafile: certs.ca, version: 'tlsv1.2' }, topics: [{ pattern: `${topic}/#`, qos: 1 }] })
    await forwards(wren.url, await connectClient(`mqtts://127.0.0.1:${mosquitto.port}`, { ca: [readFileSync(certs.ca)] }), topic)

    const proxy = await tcpProxy(mosquitto.port)
    const viaProxy = await connectedBridge(wren.broker, proxy.port, { tls: { cafile: certs.ca, insecure: true }, topics: [{ pattern: `${topic}/#`, qos: 1 }] })
    const down = bridgeState(viaProxy, 'disconnected')
    proxy.cut()
    await down
    await bridgeState(viaProxy, 'connected')

    expect(await failure(wren.broker, mosquitto.port, { cafile: certs.strangerCert })).toMatch(/certificate/i)
  })

  it('bridge_capath: the CA comes from a directory; a client certificate (bridge_certfile/keyfile) gets past require_certificate', async () => {
    const capath = mkdtempSync(join(dir, 'cas-'))
    chmodSync(capath, 0o755)
    // As c_rehash leaves it: the certificate under its subject hash
    const hash = execFileSync('openssl', ['x509', '-in', certs.ca, '-noout', '-subject_hash']).toString().trim()
    copyFileSync(certs.ca, join(capath, `${hash}.0`))
    writeFileSync(join(capath, 'README'), 'not a certificate: skipped')
    const mosquitto = await mosquittoWith([`certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`, `cafile ${certs.ca}`, 'require_certificate true'])
    const wren = await startBroker()
    const topic = uniqueId('client-cert')
    await connectedBridge(wren.broker, mosquitto.port, { tls: { capath, certfile: certs.clientCert, keyfile: certs.clientKey }, topics: [{ pattern: `${topic}/#`, qos: 1 }] })
    const tlsClient = { ca: [readFileSync(certs.ca)], cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }
    await forwards(wren.url, await connectClient(`mqtts://127.0.0.1:${mosquitto.port}`, tlsClient), topic)

    // Without a certificate, or with one it does not trust, Mosquitto ends the handshake with an alert
    expect(await failure(wren.broker, mosquitto.port, { capath })).toMatch(/alert certificate required/)
    expect(await failure(wren.broker, mosquitto.port, { capath, certfile: certs.strangerCert, keyfile: certs.strangerKey })).toMatch(/alert unknown ca/)
  })

  it.each([['tlsv1.2' as const], ['TLS 1.3, the default' as const]])('TLS-PSK (bridge_identity, bridge_psk) against a psk_file listener, over %s; a wrong key is refused', async (version) => {
    const dir = mkdtempSync(join(tmpdir(), 'wren-bridge-psk-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const pskFile = join(dir, 'psk')
    writeFileSync(pskFile, 'site-7:0f1e2d3c4b5a69788796a5b4c3d2e1f0\n')
    chmodSync(dir, 0o755)
    chmodSync(pskFile, 0o644)
    const mosquitto = await mosquittoWith(['psk_hint wren-central', `psk_file ${pskFile}`])
    const wren = await startBroker()
    const topic = uniqueId('psk')
    const psk: BridgeTls = { identity: 'site-7', psk: '0f1e2d3c4b5a69788796a5b4c3d2e1f0', ...(version === 'tlsv1.2' ? { version } : {}) }
    await connectedBridge(wren.broker, mosquitto.port, { tls: psk, topics: [{ pattern: `${topic}/#`, qos: 1 }] })
    const pskClient: IClientOptions & tls.ConnectionOptions = {
      ciphers: 'PSK',
      maxVersion: 'TLSv1.2',
      pskCallback: () => ({ psk: Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'hex'), identity: 'site-7' }),
      checkServerIdentity: () => undefined,
    }
    await forwards(wren.url, await connectClient(`mqtts://127.0.0.1:${mosquitto.port}`, pskClient), topic)

    expect(await failure(wren.broker, mosquitto.port, { ...psk, psk: 'ffff' })).toMatch(/SSL alert/)
  })
})

interface OcspResponses {
  good: Buffer
  revoked: Buffer
  /** Signed by a key that is not the issuer's. */
  forged: Buffer
  /** Signed by a responder certificate the issuer signed for OCSP signing (included in the response). */
  delegated: Buffer
  /** Signed by a certificate of the issuer that is not for OCSP signing. */
  undelegated: Buffer
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

/** OCSP responses for the server certificate, made by openssl's responder from an index file. */
function ocspResponses(dir: string): OcspResponses {
  const serial = execFileSync('openssl', ['x509', '-in', 'server.pem', '-noout', '-serial'], { cwd: dir }).toString().trim().split('=')[1] as string
  openssl(dir, ['ocsp', '-issuer', 'ca.pem', '-cert', 'server.pem', '-no_nonce', '-reqout', 'request.der'])
  const respond = (name: string, entry: string, signer: string): Buffer => {
    writeFileSync(join(dir, `${name}.index`), `${entry}\t991231235959Z\t${entry === 'R' ? '240101000000Z' : ''}\t${serial}\tunknown\t/CN=localhost\n`)
    openssl(dir, ['ocsp', '-index', `${name}.index`, '-rsigner', `${signer}.pem`, '-rkey', `${signer}.key`, '-CA', 'ca.pem', '-reqin', 'request.der', '-respout', `${name}.der`, '-ndays', '1'])
    return readFileSync(join(dir, `${name}.der`))
  }
  writeFileSync(join(dir, 'responder.ext'), 'extendedKeyUsage=OCSPSigning\n')
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'responder.key', '-out', 'responder.csr', '-subj', '/CN=ocsp'])
  openssl(dir, ['x509', '-req', '-in', 'responder.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'responder.pem', '-days', '2', '-extfile', 'responder.ext'])
  return {
    good: respond('good', 'V', 'ca'),
    revoked: respond('revoked', 'R', 'ca'),
    forged: respond('forged', 'V', 'stranger'),
    delegated: respond('delegated', 'V', 'responder'),
    undelegated: respond('undelegated', 'V', 'client'),
  }
}

/** A TLS server that staples `staple()` (if any) and hands each connection to a Wren broker: the remote. */
async function staplingRemote(certs: Certificates, staple: () => Buffer | undefined): Promise<number> {
  const remote = await startBroker()
  const server = tls.createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (socket) => remote.broker.handle(socket, { transport: 'tls' }))
  server.on('OCSPRequest', (_certificate: Buffer, _issuer: Buffer, reply: (error: Error | null, response?: Buffer) => void) => reply(null, staple()))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as { port: number }).port
}

describe('OCSP stapling (bridge_require_ocsp)', () => {
  it("connects only when the remote staples a good response signed by its certificate's issuer or its OCSP responder", async () => {
    const responses = ocspResponses(dir)
    let stapled: Buffer | undefined = responses.good
    const port = await staplingRemote(certs, () => stapled)
    const wren = await startBroker()
    const required: BridgeTls = { cafile: certs.ca, requireOcsp: true }
    await connectedBridge(wren.broker, port, { tls: required, topics: [{ pattern: 'ocsp/#', qos: 1 }] })

    stapled = responses.delegated
    await connectedBridge(wren.broker, port, { tls: required, topics: [{ pattern: 'ocsp/#', qos: 1 }] })

    stapled = responses.undelegated
    expect(await failure(wren.broker, port, required)).toBe('the OCSP response is not signed by the certificate issuer or a responder it authorised')
    stapled = responses.revoked
    expect(await failure(wren.broker, port, required)).toBe('the OCSP response says the remote certificate is revoked')
    stapled = responses.forged
    expect(await failure(wren.broker, port, required)).toBe('the OCSP response is not signed by the certificate issuer or a responder it authorised')
    stapled = undefined
    expect(await failure(wren.broker, port, required)).toBe('the remote stapled no OCSP response')
    // OCSPResponse { responseStatus unauthorized (6) }, and bytes that are no DER at all
    stapled = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x06])
    expect(await failure(wren.broker, port, required)).toBe('the OCSP responder answered with status 6 instead of successful')
    stapled = Buffer.from([0x30, 0x7f, 0x0a])
    expect(await failure(wren.broker, port, required)).toBe('malformed OCSP response: truncated')
    // Without requireOcsp, a missing staple does not matter
    await connectedBridge(wren.broker, port, { tls: { cafile: certs.ca }, topics: [{ pattern: 'ocsp/#', qos: 1 }] })
  })
})
