import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AuthFileError, clientAcl, parseAcl, readAclFile } from '../src/index.js'

// Shaped like the acl files people run Mosquitto with: an anonymous section, users, patterns anywhere.
const REALISTIC_ACL = `# Wren / Mosquitto ACL
# Clients without a user name:
topic read $SYS/#
topic read public/#

# Every client, wherever the line stands:
pattern write $SYS/broker/connection/%c/state
pattern readwrite devices/%c/#
pattern read users/%u/inbox/#

user admin
topic readwrite #
topic readwrite $SYS/#

user roger
topic foo/bar
topic read sensors/+/temperature
topic write commands/roger
   # indented comment
topic read   report with spaces/today

user ops team
topic read #
topic deny secret/#
pattern deny devices/%c/private

user roger
topic read more/roger
`

const acl = parseAcl(REALISTIC_ACL, 'acl')
const anonymous = clientAcl(acl, { clientId: 'anon-1', username: undefined })
const roger = clientAcl(acl, { clientId: 'roger-laptop', username: 'roger' })
const ops = clientAcl(acl, { clientId: 'ops-1', username: 'ops team' })
const admin = clientAcl(acl, { clientId: 'admin-1', username: 'admin' })

describe('parseAcl', () => {
  it('sorts lines into the anonymous section, user sections and patterns', () => {
    expect(acl.anonymous.map((rule) => `${rule.access} ${rule.filter}`)).toEqual(['read $SYS/#', 'read public/#'])
    expect([...acl.users.keys()]).toEqual(['admin', 'roger', 'ops team'])
    expect(acl.users.get('roger')?.map((rule) => `${rule.access} ${rule.filter}`)).toEqual([
      'readwrite foo/bar',
      'read sensors/+/temperature',
      'write commands/roger',
      'read report with spaces/today',
      'read more/roger',
    ])
    expect(acl.patterns.map((rule) => `${rule.access} ${rule.filter} @${rule.line}`)).toEqual([
      'write $SYS/broker/connection/%c/state @7',
      'readwrite devices/%c/# @8',
      'read users/%u/inbox/# @9',
      'deny devices/%c/private @25',
    ])
  })

  it('parses Mosquitto’s own example file', () => {
    const example = parseAcl(`# This affects access control for clients with no username.
topic read $SYS/#

# This only affects clients with username "roger".
user roger
topic foo/bar

# This affects all clients.
pattern write $SYS/broker/connection/%c/state
`)
    expect(example.anonymous).toHaveLength(1)
    expect(example.users.get('roger')).toHaveLength(1)
    expect(example.patterns).toHaveLength(1)
  })

  it.each([
    ['topic', 1, 'needs a topic filter'],
    ['topic read', 1, 'needs a topic filter'],
    ['user', 1, 'needs a user name'],
    ['\n\nallow read a/b', 3, "unknown keyword 'allow'"],
    ['topic read a/#/b', 1, 'not a valid topic filter (bad-wildcard)'],
    ['topic read a+/b', 1, 'not a valid topic filter'],
    ['topic read devices/%c', 1, 'in `pattern` lines only'],
  ])('rejects %j at line %i', (text, line, message) => {
    let error: unknown
    try {
      parseAcl(text, 'acl.conf')
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(AuthFileError)
    expect(error).toMatchObject({ code: 'WREN_ACL_FILE_INVALID', file: 'acl.conf', line })
    expect((error as Error).message).toContain(message)
  })

  it('reads a file from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wren-acl-'))
    try {
      const file = join(dir, 'acl')
      writeFileSync(file, REALISTIC_ACL.replaceAll('\n', '\r\n'))
      expect((await readAclFile(file)).users.get('roger')).toHaveLength(5)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('clientAcl', () => {
  it('gives anonymous clients the lines before the first user, plus patterns', () => {
    expect(anonymous.canRead('$SYS/broker/uptime')).toBe(true)
    expect(anonymous.canRead('public/news')).toBe(true)
    expect(anonymous.canWrite('public/news')).toBe(false)
    expect(anonymous.canRead('foo/bar')).toBe(false)
    expect(anonymous.canWrite('devices/anon-1/status')).toBe(true)
    // %u patterns do not apply without a user name.
    expect(anonymous.canRead('users//inbox/x')).toBe(false)
  })

  it('does not give a user the anonymous section', () => {
    expect(roger.canRead('public/news')).toBe(false)
    expect(roger.canRead('$SYS/broker/uptime')).toBe(false)
  })

  it('applies topic access keywords, readwrite by default', () => {
    expect(roger.canRead('foo/bar')).toBe(true)
    expect(roger.canWrite('foo/bar')).toBe(true)
    expect(roger.canRead('sensors/kitchen/temperature')).toBe(true)
    expect(roger.canWrite('sensors/kitchen/temperature')).toBe(false)
    expect(roger.canWrite('commands/roger')).toBe(true)
    expect(roger.canRead('commands/roger')).toBe(false)
    expect(roger.canRead('report with spaces/today')).toBe(true)
    // A second `user roger` section adds to the first.
    expect(roger.canRead('more/roger')).toBe(true)
  })

  it('substitutes %c and %u in patterns for every client', () => {
    expect(roger.canWrite('devices/roger-laptop/telemetry')).toBe(true)
    expect(roger.canRead('devices/roger-laptop/config/x')).toBe(true)
    expect(roger.canWrite('devices/other-device/telemetry')).toBe(false)
    expect(roger.canRead('users/roger/inbox/1')).toBe(true)
    expect(roger.canRead('users/ops team/inbox/1')).toBe(false)
    expect(ops.canRead('users/ops team/inbox/1')).toBe(true)
    expect(roger.canWrite('$SYS/broker/connection/roger-laptop/state')).toBe(true)
    expect(roger.canWrite('$SYS/broker/connection/other/state')).toBe(false)
  })

  it('lets deny rules win over any grant, wherever they stand', () => {
    expect(ops.canRead('news/today')).toBe(true)
    expect(ops.canRead('secret/plans')).toBe(false)
    expect(ops.canRead('secret')).toBe(false)
    // The deny pattern beats the readwrite pattern on the same device.
    expect(ops.canRead('devices/ops-1/status')).toBe(true)
    expect(ops.canRead('devices/ops-1/private')).toBe(false)
    expect(ops.canWrite('devices/ops-1/private')).toBe(false)
    // A deny pattern applies to every client, like any pattern.
    expect(roger.canWrite('devices/roger-laptop/private')).toBe(false)
  })

  it('does not let a leading wildcard reach $ topics', () => {
    expect(ops.canRead('$SYS/broker/uptime')).toBe(false)
    expect(admin.canRead('$SYS/broker/uptime')).toBe(true)
  })

  it('grants nothing to an unknown user but the patterns', () => {
    const stranger = clientAcl(acl, { clientId: 'x', username: 'stranger' })
    expect(stranger.canRead('foo/bar')).toBe(false)
    expect(stranger.canWrite('devices/x/y')).toBe(true)
  })

  it('grants nothing to a client whose id or user name holds a wildcard', () => {
    const wild = clientAcl(acl, { clientId: '#', username: 'admin' })
    expect(wild.canRead('devices/anything')).toBe(false)
    expect(wild.canRead('a')).toBe(false)
    expect(clientAcl(acl, { clientId: 'ok', username: 'ro+ger' }).canWrite('devices/ok/x')).toBe(false)
  })

  it('grants no pattern to a client id that holds a level separator', () => {
    const sneaky = clientAcl(acl, { clientId: 'roger-laptop/x', username: undefined })
    expect(sneaky.canWrite('devices/roger-laptop/x/telemetry')).toBe(false)
    expect(sneaky.canRead('public/news')).toBe(true)
  })

  it('denies everything when the file has no rule for a client', () => {
    const empty = clientAcl(parseAcl('# nothing\n'), { clientId: 'c', username: undefined })
    expect(empty.canRead('a')).toBe(false)
    expect(empty.canWrite('a')).toBe(false)
    expect(empty.canSubscribe('#')).toBe(false)
  })
})

describe('canSubscribe vs canRead', () => {
  it('grants a subscription that a readable filter covers', () => {
    expect(roger.canSubscribe('sensors/+/temperature')).toBe(true)
    expect(roger.canSubscribe('sensors/kitchen/temperature')).toBe(true)
    expect(roger.canSubscribe('devices/roger-laptop/#')).toBe(true)
    expect(roger.canSubscribe('users/roger/inbox/+')).toBe(true)
    expect(admin.canSubscribe('#')).toBe(true)
  })

  it('refuses a subscription wider than what the client may read', () => {
    expect(roger.canSubscribe('#')).toBe(false)
    expect(roger.canSubscribe('sensors/#')).toBe(false)
    expect(roger.canSubscribe('+/bar')).toBe(false)
    expect(roger.canSubscribe('commands/roger')).toBe(false) // write-only
    expect(anonymous.canSubscribe('$SYS/#')).toBe(true)
    expect(ops.canSubscribe('$SYS/#')).toBe(false)
  })

  it('refuses a subscription that a deny rule covers entirely', () => {
    expect(ops.canSubscribe('secret/#')).toBe(false)
    expect(ops.canSubscribe('secret/plans')).toBe(false)
    expect(ops.canSubscribe('devices/ops-1/private')).toBe(false)
  })

  it('grants # next to a deny, and canRead then keeps the denied topics out', () => {
    expect(ops.canSubscribe('#')).toBe(true)
    const delivered = ['news/today', 'secret/plans', 'secret', 'weather/rain'].filter((topic) => ops.canRead(topic))
    expect(delivered).toEqual(['news/today', 'weather/rain'])
  })

  it('checks the filter inside a shared subscription', () => {
    expect(roger.canSubscribe('$share/workers/sensors/+/temperature')).toBe(true)
    expect(roger.canSubscribe('$share/workers/#')).toBe(false)
    expect(ops.canSubscribe('$share/g/secret/#')).toBe(false)
  })
})
