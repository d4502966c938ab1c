import { readFileSync } from 'node:fs'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkPassword, readPasswordFile } from '@wren/auth-file'
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { makeCertificates, type Certificates } from './helpers/certificates.js'
import { runWren, startWren, type WrenProcess } from './helpers/wren-process.js'

let dir: string
let certs: Certificates
/** admin may do anything; alice reads everything but secret/... and writes public/...; every user owns devices/<user>/... */
let passwordFile: string
let aclFile: string
const running: WrenProcess[] = []
const clients: MqttClient[] = []

const ACL = `user admin
topic readwrite #

user alice
topic read #
topic write public/#
topic deny secret/#

pattern readwrite devices/%u/#
`

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wren-auth-'))
  certs = makeCertificates(dir)
  passwordFile = join(dir, 'passwd')
  aclFile = join(dir, 'acl')
  await writeFile(aclFile, ACL)
  for (const [user, password] of [['admin', 'admin-pw'], ['alice', 'alice-pw']]) {
    expect((await runWren(['passwd', passwordFile, user!, password!])).code).toBe(0)
  }
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)))
  await Promise.all(running.splice(0).map((wren) => wren.stop()))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function wren(args: string[]): Promise<WrenProcess> {
  const started = await startWren(['--no-ws', '--sys-interval', '0', ...args])
  running.push(started)
  return started
}

const v5 = { protocolVersion: 5 } as const

async function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const connected = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  clients.push(connected)
  return connected
}

/** The CONNACK return code (3.1.1) or reason code (MQTT 5) of a refused connection; 0 when it gets in. */
async function refusal(url: string, options: IClientOptions = {}): Promise<number | undefined> {
  try {
    await client(url, options)
    return 0
  } catch (error) {
    return (error as { code?: number }).code
  }
}

/** The SUBACK codes for one filter; MQTT.js rejects when one is a failure and carries the packet. */
async function granted(subscriber: MqttClient, filter: string): Promise<number[]> {
  try {
    return (await subscriber.subscribeAsync(filter, { qos: 1 })).map((grant) => grant.qos)
  } catch (error) {
    return (error as { packet: { granted: number[] } }).packet.granted
  }
}

/** Collects `topic payload` of every message a client receives. */
function inbox(subscriber: MqttClient): string[] {
  const received: string[] = []
  subscriber.on('message', (topic, payload) => received.push(`${topic} ${payload}`))
  return received
}

describe('wren --password-file --acl-file', () => {
  it('refuses a wrong password (4 / 0x86) and anonymous clients (5 / 0x87), admits the right one', async () => {
    const { urls } = await wren(['--password-file', passwordFile, '--acl-file', aclFile])
    const url = urls.tcp!
    expect(await refusal(url, { username: 'alice', password: 'wrong' })).toBe(4)
    expect(await refusal(url, { ...v5, username: 'alice', password: 'wrong' })).toBe(0x86)
    expect(await refusal(url, { username: 'nobody', password: 'alice-pw' })).toBe(4)
    expect(await refusal(url)).toBe(5)
    expect(await refusal(url, v5)).toBe(0x87)
    expect(await refusal(url, { username: 'alice', password: 'alice-pw' })).toBe(0)
    expect(await refusal(url, { ...v5, username: 'alice', password: 'alice-pw' })).toBe(0)
  })

  it('drops a publish the ACL denies (3.1.1) or answers PUBACK 0x87 (MQTT 5), and refuses a subscription (0x80 / 0x87)', async () => {
    const { urls } = await wren(['--password-file', passwordFile, '--acl-file', aclFile])
    const admin = await client(urls.tcp!, { username: 'admin', password: 'admin-pw' })
    await admin.subscribeAsync('#', { qos: 1 })
    const seen = inbox(admin)

    const alice3 = await client(urls.tcp!, { username: 'alice', password: 'alice-pw' })
    const alice5 = await client(urls.tcp!, { ...v5, username: 'alice', password: 'alice-pw' })
    await alice3.publishAsync('private/x', 'v3', { qos: 1 })
    await expect(alice5.publishAsync('private/x', 'v5', { qos: 1 })).rejects.toMatchObject({ code: 0x87 })
    await alice5.publishAsync('public/x', 'allowed', { qos: 1 })
    await expect.poll(() => seen).toEqual(['public/x allowed'])

    expect(await granted(alice3, 'secret/#')).toEqual([0x80])
    expect(await granted(alice5, 'secret/#')).toEqual([0x87])
    expect(await granted(alice5, '$share/g/secret/#')).toEqual([0x87])
  })

  it('gives a client denied secret/# nothing from it through #, retained messages or a shared subscription', async () => {
    const { urls } = await wren(['--password-file', passwordFile, '--acl-file', aclFile])
    const admin = await client(urls.tcp!, { username: 'admin', password: 'admin-pw' })
    await admin.publishAsync('secret/retained', 'hidden', { qos: 1, retain: true })
    await admin.publishAsync('public/retained', 'shown', { qos: 1, retain: true })

    const wide = await client(urls.tcp!, { username: 'alice', password: 'alice-pw' })
    const wideInbox = inbox(wide)
    await wide.subscribeAsync('#', { qos: 1 })
    const shared = await client(urls.tcp!, { ...v5, username: 'alice', password: 'alice-pw' })
    const sharedInbox = inbox(shared)
    await shared.subscribeAsync('$share/g/#', { qos: 1 })

    await admin.publishAsync('secret/live', 'hidden', { qos: 1 })
    await admin.publishAsync('public/live', 'shown', { qos: 0 })
    await admin.publishAsync('secret/qos0', 'hidden', { qos: 0 })
    await admin.publishAsync('public/last', 'shown', { qos: 1 })
    await expect.poll(() => wideInbox).toContain('public/last shown')
    await expect.poll(() => sharedInbox).toContain('public/last shown')
    // A message let through wrongly would have arrived before 'public/last', published after it on the same connection.
    expect(wideInbox).toEqual(['public/retained shown', 'public/live shown', 'public/last shown'])
    expect(sharedInbox).toEqual(['public/live shown', 'public/last shown'])
  })

  it('reads both files again on SIGHUP, and keeps the old ones when a new one is broken', async () => {
    const passwd = join(dir, 'passwd-reload')
    const acl = join(dir, 'acl-reload')
    await copyFile(passwordFile, passwd)
    await writeFile(acl, ACL)
    const server = await wren(['--password-file', passwd, '--acl-file', acl])
    const url = server.urls.tcp!
    expect((await runWren(['passwd', passwd, 'carol', 'carol-pw'])).code).toBe(0)
    await writeFile(acl, `${ACL}\nuser carol\ntopic readwrite carol/#\n`)
    expect(await refusal(url, { username: 'carol', password: 'carol-pw' })).toBe(4)

    server.child.kill('SIGHUP')
    await server.waitForLog((line) => line.msg === 'reloaded the password and ACL files')
    const carol = await client(url, { ...v5, username: 'carol', password: 'carol-pw' })
    await carol.publishAsync('carol/x', 'mine', { qos: 1 })
    await expect(carol.publishAsync('public/x', 'not mine', { qos: 1 })).rejects.toMatchObject({ code: 0x87 })

    await writeFile(acl, 'topci readwrite #\n')
    server.child.kill('SIGHUP')
    const failed = await server.waitForLog((line) => line.msg.startsWith('reload failed'))
    expect(failed.level).toBe(50)
    expect(await refusal(url, { ...v5, username: 'carol', password: 'carol-pw' })).toBe(0)
    await expect(carol.publishAsync('public/x', 'still not mine', { qos: 1 })).rejects.toMatchObject({ code: 0x87 })
    expect(server.child.exitCode).toBe(null)
  })

  it('stops at start with exit code 2 when a file is missing or broken', async () => {
    const missing = await runWren(['--password-file', join(dir, 'nope')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe(`wren: cannot read passwordFile ${join(dir, 'nope')}: no such file\n`)
    const broken = join(dir, 'broken-acl')
    await writeFile(broken, 'topic readwrite #\nbogus line\n')
    const invalid = await runWren(['--acl-file', broken, '--trust-client-usernames'])
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toContain(`WREN_ACL_FILE_INVALID: ${broken}:2`)
  })
})

describe('wren --require-client-cert --cert-cn-as-username', () => {
  /** Whether a client gets in; a refused TLS handshake may end in a plain close rather than an error. */
  function attempt(url: string, options: IClientOptions): Promise<'connected' | 'refused'> {
    const attempted = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
    return new Promise<'connected' | 'refused'>((resolve) => {
      attempted.once('connect', () => resolve('connected'))
      attempted.once('error', () => resolve('refused'))
      attempted.once('close', () => resolve('refused'))
    }).finally(() => attempted.endAsync(true))
  }

  it('refuses TLS clients without a certificate and logs the others in as their CN, which the ACL sees as %u', async () => {
    const tls = ['--tls-port', '0', '--cert', certs.serverCert, '--key', certs.serverKey, '--ca', certs.ca]
    const server = await wren([...tls, '--require-client-cert', '--cert-cn-as-username'].concat(
      ['--password-file', passwordFile, '--acl-file', aclFile],
    ))
    const trust = { ca: readFileSync(certs.ca), rejectUnauthorized: true }
    const withCert = { ...trust, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }
    const tlsUrl = server.urls.tls!

    expect(await attempt(tlsUrl, trust)).toBe('refused')
    const stranger = { ...trust, cert: readFileSync(certs.strangerCert), key: readFileSync(certs.strangerKey) }
    expect(await attempt(tlsUrl, stranger)).toBe('refused')

    const admin = await client(server.urls.tcp!, { username: 'admin', password: 'admin-pw' })
    await admin.subscribeAsync('devices/#', { qos: 1 })
    const seen = inbox(admin)
    // No user name or password sent: with a password file, only the certificate can have logged it in.
    const sensor = await client(tlsUrl, { ...v5, ...withCert })
    await sensor.publishAsync('devices/sensor-1/temperature', '21.5', { qos: 1 })
    await expect(sensor.publishAsync('devices/sensor-2/temperature', '0', { qos: 1 })).rejects.toMatchObject({
      code: 0x87,
    })
    expect(await granted(sensor, 'devices/#')).toEqual([0x87])
    await expect.poll(() => seen).toEqual(['devices/sensor-1/temperature 21.5'])

    // The certificate wins over a user name and password the client sends, as Mosquitto's use_identity_as_username.
    const claiming = await client(tlsUrl, { ...v5, ...withCert, username: 'admin', password: 'wrong' })
    await expect(claiming.publishAsync('public/x', 'as admin?', { qos: 1 })).rejects.toMatchObject({ code: 0x87 })
    // The plain TCP listener still wants a password.
    expect(await refusal(server.urls.tcp!)).toBe(5)
  })
})

describe('wren passwd', () => {
  it('adds, replaces and deletes users, with the password as an argument or piped in', async () => {
    const file = join(dir, 'passwd-cli')
    const check = async (user: string, password: string): Promise<boolean> =>
      checkPassword(await readPasswordFile(file), user, Buffer.from(password))

    const added = await runWren(['passwd', file, 'dave', 'first'])
    expect(added).toMatchObject({ code: 0, stdout: `Set the password of 'dave' in ${file}.\n` })
    expect(await check('dave', 'first')).toBe(true)

    expect((await runWren(['passwd', file, 'dave', 'second'])).code).toBe(0)
    expect(await check('dave', 'second')).toBe(true)
    expect(await check('dave', 'first')).toBe(false)

    const prompted = await runWren(['passwd', file, 'erin'], { input: 'piped-pw\npiped-pw\n' })
    expect(prompted.code).toBe(0)
    expect(prompted.stdout).toContain('Password: ')
    expect(await check('erin', 'piped-pw')).toBe(true)
    const mismatch = await runWren(['passwd', file, 'erin'], { input: 'one\ntwo\n' })
    expect(mismatch).toMatchObject({ code: 1, stderr: 'Error: the passwords do not match.\n' })
    expect(await check('erin', 'piped-pw')).toBe(true)

    expect((await runWren(['passwd', '-D', file, 'dave'])).code).toBe(0)
    expect(await readFile(file, 'utf8')).not.toContain('dave:')
    expect(await check('erin', 'piped-pw')).toBe(true)
    expect((await runWren(['passwd', '-D', file, 'dave'])).code).toBe(1)
    expect((await runWren(['passwd', file])).code).toBe(2)
  })
})
