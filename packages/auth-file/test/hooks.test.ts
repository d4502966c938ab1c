import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ClientInfo, Credentials, Message } from '@wren/core'
import { createFileAuth, setPassword } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'wren-file-auth-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const passwordFile = join(dir, 'passwd')
const aclFile = join(dir, 'acl')

const ACL = `topic read public/#
user alice
topic readwrite alice/#
topic read #
topic deny secret/#
pattern readwrite clients/%c/#
`

// Top level, not beforeAll: the describe blocks below build their hooks while the file is being collected.
await setPassword(passwordFile, 'alice', 'alice-pw')
await setPassword(passwordFile, 'bob', 'bob-pw')
writeFileSync(aclFile, ACL)

function client(id: string, username?: string): ClientInfo {
  return { id, protocolVersion: 5, username, meta: { transport: 'memory' }, bridge: false, data: {}, closed: false }
}

function credentials(username?: string, password?: string): Credentials {
  return {
    clientId: 'c1',
    username,
    password: password === undefined ? undefined : Buffer.from(password),
    certificate: undefined,
  }
}

function message(topic: string): Message {
  return { topic, payload: Buffer.from('x'), qos: 0, retain: false }
}

describe('createFileAuth: authenticate', () => {
  const { hooks } = createFileAuth({ passwordFile })
  const authenticate = hooks.authenticate as NonNullable<typeof hooks.authenticate>

  it('accepts a listed user with the right password', async () => {
    expect(await authenticate(client('c1'), credentials('alice', 'alice-pw'))).toEqual({ ok: true })
    expect(await authenticate(client('c1'), credentials('bob', 'bob-pw'))).toEqual({ ok: true })
  })

  it('refuses a wrong password, an unknown user and a missing password with 0x86', async () => {
    for (const [username, password] of [
      ['alice', 'bob-pw'],
      ['mallory', 'alice-pw'],
      ['alice', undefined],
    ] as const) {
      expect(await authenticate(client('c1'), credentials(username, password))).toMatchObject({
        ok: false,
        reasonCode: 0x86,
      })
    }
  })

  it('refuses anonymous clients with 0x87 when a password file is set', async () => {
    expect(await authenticate(client('c1'), credentials())).toMatchObject({ ok: false, reasonCode: 0x87 })
  })

  it('has no opinion on anonymous clients when allowAnonymous is set', async () => {
    const open = createFileAuth({ passwordFile, allowAnonymous: true }).hooks.authenticate
    expect(await open?.(client('c1'), credentials())).toBeUndefined()
    expect(await open?.(client('c1'), credentials('alice', 'wrong'))).toMatchObject({ reasonCode: 0x86 })
  })

  it('registers no authenticate hook without a password file, unless anonymous clients are refused', async () => {
    expect(createFileAuth({ aclFile }).hooks.authenticate).toBeUndefined()
    const closed = createFileAuth({ allowAnonymous: false }).hooks.authenticate
    expect(await closed?.(client('c1'), credentials())).toMatchObject({ reasonCode: 0x87 })
    // With no file to check against, a named client is someone else's call.
    expect(await closed?.(client('c1'), credentials('alice', 'x'))).toBeUndefined()
  })

  it('registers no authorize hooks without an ACL file', () => {
    expect(Object.keys(createFileAuth({ passwordFile }).hooks)).toEqual(['authenticate'])
  })
})

describe('createFileAuth: authorize', () => {
  const { hooks } = createFileAuth({ passwordFile, aclFile })
  const alice = client('alice-phone', 'alice')
  const anon = client('kiosk')

  it('answers undefined to allow (so later hooks still run) and 0x87 to refuse a publish', () => {
    expect(hooks.authorizePublish?.(alice, message('alice/notes'))).toBeUndefined()
    expect(hooks.authorizePublish?.(alice, message('clients/alice-phone/status'))).toBeUndefined()
    expect(hooks.authorizePublish?.(alice, message('news/today'))).toMatchObject({ ok: false, reasonCode: 0x87 })
    expect(hooks.authorizePublish?.(anon, message('public/x'))).toMatchObject({ ok: false, reasonCode: 0x87 })
  })

  it('checks subscriptions when they are made', () => {
    const subscribe = (info: ClientInfo, filter: string) => hooks.authorizeSubscribe?.(info, { filter, qos: 1 })
    expect(subscribe(alice, '#')).toBeUndefined()
    expect(subscribe(alice, 'secret/#')).toMatchObject({ ok: false, reasonCode: 0x87 })
    expect(subscribe(anon, 'public/+')).toBeUndefined()
    expect(subscribe(anon, '#')).toMatchObject({ ok: false, reasonCode: 0x87 })
  })

  it('drops, synchronously, each delivery the client may not read', () => {
    expect(hooks.authorizeForward?.(alice, message('news/today'))).toBeUndefined()
    expect(hooks.authorizeForward?.(alice, message('secret/plans'))).toBe(false)
    expect(hooks.authorizeForward?.(anon, message('public/news'))).toBeUndefined()
    expect(hooks.authorizeForward?.(anon, message('news/today'))).toBe(false)
  })
})

describe('createFileAuth: loading and reload()', () => {
  it('fails at once on a broken or missing file', () => {
    const broken = join(dir, 'broken-acl')
    writeFileSync(broken, 'topic read a/#/b\n')
    expect(() => createFileAuth({ aclFile: broken })).toThrow(/broken-acl:1/)
    expect(() => createFileAuth({ passwordFile: join(dir, 'absent') })).toThrow(/ENOENT/)
  })

  it('picks up edited files on reload, for connected clients too', async () => {
    const passwords = join(dir, 'reload-passwd')
    const rules = join(dir, 'reload-acl')
    await setPassword(passwords, 'carol', 'old-pw')
    writeFileSync(rules, 'user carol\ntopic read a/#\n')
    const auth = createFileAuth({ passwordFile: passwords, aclFile: rules })
    const carol = client('carol-1', 'carol')
    expect(auth.hooks.authorizeForward?.(carol, message('a/1'))).toBeUndefined()
    expect(auth.hooks.authorizeForward?.(carol, message('b/1'))).toBe(false)

    await setPassword(passwords, 'carol', 'new-pw')
    writeFileSync(rules, 'user carol\ntopic read b/#\n')
    // Nothing changes until reload(): the files are read once.
    expect(await auth.hooks.authenticate?.(carol, credentials('carol', 'old-pw'))).toEqual({ ok: true })
    await auth.reload()
    expect(await auth.hooks.authenticate?.(carol, credentials('carol', 'old-pw'))).toMatchObject({ reasonCode: 0x86 })
    expect(await auth.hooks.authenticate?.(carol, credentials('carol', 'new-pw'))).toEqual({ ok: true })
    expect(auth.hooks.authorizeForward?.(carol, message('a/1'))).toBe(false)
    expect(auth.hooks.authorizeForward?.(carol, message('b/1'))).toBeUndefined()
  })

  it('keeps the files in force when a reload fails', async () => {
    const rules = join(dir, 'keep-acl')
    writeFileSync(rules, 'topic read a/#\n')
    const auth = createFileAuth({ aclFile: rules })
    writeFileSync(rules, 'topic read a/#\nnonsense here\n')
    await expect(auth.reload()).rejects.toThrow(/keep-acl:2: unknown keyword 'nonsense'/)
    expect(auth.hooks.authorizeForward?.(client('k'), message('a/1'))).toBeUndefined()
  })
})
