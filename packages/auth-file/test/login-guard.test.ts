import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ReasonCode, type ClientInfo } from '@wren/core'
import { afterAll, describe, expect, it } from 'vitest'
import { LoginGuard } from '../src/login-guard.js'
import { readPasswordFile, setPassword } from '../src/password-file.js'

const dir = mkdtempSync(join(tmpdir(), 'wren-login-guard-'))
const passwordFile = join(dir, 'passwd')
await setPassword(passwordFile, 'alice', 'alice-pw')
const passwords = await readPasswordFile(passwordFile)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function client(remoteAddress = '192.0.2.1'): ClientInfo & { closed: boolean } {
  return { id: 'c', protocolVersion: 4, username: undefined, meta: { remoteAddress }, bridge: false, data: {}, closed: false }
}

const pw = (text: string) => Buffer.from(text)
const codeOf = (outcome: unknown) => (outcome === true ? 'ok' : (outcome as { reasonCode: number }).reasonCode)

describe('the login guard', () => {
  it('passes over a queued check whose client left, without checking it', async () => {
    const guard = new LoginGuard({ maxConcurrentChecks: 1 })
    const running = guard.check(client(), passwords, 'alice', pw('alice-pw'))
    const gone = client()
    const left = guard.check(gone, passwords, 'alice', pw('alice-pw'))
    const waiting = guard.check(client(), passwords, 'alice', pw('alice-pw'))
    gone.closed = true
    expect(codeOf(await left)).toBe(ReasonCode.BadUserNameOrPassword)
    expect(await running).toBe(true)
    expect(await waiting).toBe(true)
  })

  it('refuses at once beyond maxQueuedChecks with 0x89 Server busy', async () => {
    const guard = new LoginGuard({ maxConcurrentChecks: 1, maxQueuedChecks: 1, successCacheMs: 0 })
    const first = guard.check(client(), passwords, 'alice', pw('x'))
    const second = guard.check(client(), passwords, 'alice', pw('y'))
    expect(codeOf(await guard.check(client(), passwords, 'alice', pw('alice-pw')))).toBe(ReasonCode.ServerBusy)
    await Promise.all([first, second])
  })

  it('refuses an address after maxFailuresPerAddress failed logins, unchecked, and only that address', async () => {
    const guard = new LoginGuard({ maxFailuresPerAddress: 3, successCacheMs: 0 })
    for (let i = 0; i < 3; i++) expect(codeOf(await guard.check(client('192.0.2.7'), passwords, `nobody${i}`, pw('x')))).toBe(ReasonCode.BadUserNameOrPassword)
    expect(codeOf(await guard.check(client('192.0.2.7'), passwords, 'alice', pw('alice-pw')))).toBe(ReasonCode.ConnectionRateExceeded)
    expect(await guard.check(client('192.0.2.8'), passwords, 'alice', pw('alice-pw'))).toBe(true)
  })

  it('counts the checks an address has waiting or running toward maxFailuresPerAddress, before any hash', async () => {
    const guard = new LoginGuard({ maxConcurrentChecks: 1, maxFailuresPerAddress: 3, successCacheMs: 0 })
    const pending = [1, 2, 3].map((i) => guard.check(client('192.0.2.9'), passwords, `flood${i}`, pw('x')))
    expect(codeOf(await guard.check(client('192.0.2.9'), passwords, 'alice', pw('alice-pw')))).toBe(ReasonCode.ConnectionRateExceeded)
    expect((await Promise.all(pending)).map(codeOf)).toEqual([0x86, 0x86, 0x86])
  })

  it('gives the next slot to an address with no check running before another check of a flooding one', async () => {
    const guard = new LoginGuard({ maxConcurrentChecks: 1, maxFailuresPerAddress: 100, successCacheMs: 0 })
    const order: string[] = []
    const track = (name: string, outcome: Promise<unknown>) => outcome.then(() => order.push(name))
    const flood = [1, 2, 3].map((i) => track(`flood${i}`, guard.check(client('192.0.2.10'), passwords, `flood${i}`, pw('x'))))
    const valid = track('alice', guard.check(client('192.0.2.11'), passwords, 'alice', pw('alice-pw')))
    await Promise.all([...flood, valid])
    expect(order).toEqual(['flood1', 'alice', 'flood2', 'flood3'])
  })

  it('remembers a successful login: the same password skips the queue, another one does not', async () => {
    const guard = new LoginGuard({ maxConcurrentChecks: 1, maxFailuresPerAddress: 1000 })
    expect(await guard.check(client(), passwords, 'alice', pw('alice-pw'))).toBe(true)
    const queued = [1, 2, 3].map((i) => guard.check(client(), passwords, `flood${i}`, pw('x')))
    const winner = await Promise.race([
      guard.check(client(), passwords, 'alice', pw('alice-pw')).then((outcome) => ['remembered', outcome]),
      Promise.any(queued).then(() => ['queued']),
    ])
    expect(winner).toEqual(['remembered', true])
    expect(codeOf(await guard.check(client(), passwords, 'alice', pw('wrong')))).toBe(ReasonCode.BadUserNameOrPassword)
    await Promise.all(queued)
  })
})
