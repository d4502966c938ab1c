import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { AuthFileError, hashPassword, parsePasswordHash, SCRYPT_DEFAULTS, verifyPassword } from '../src/index.js'

describe('hashPassword / verifyPassword', () => {
  it('round-trips, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse')
    const b = await hashPassword('correct horse')
    expect(a).toMatch(/^\$scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/)
    expect(a).not.toBe(b)
    expect(await verifyPassword(a, 'correct horse')).toBe(true)
    expect(await verifyPassword(b, Buffer.from('correct horse'))).toBe(true)
  })

  it('refuses a wrong password, a prefix and an empty one', async () => {
    const hash = await hashPassword('correct horse')
    expect(await verifyPassword(hash, 'correct horsE')).toBe(false)
    expect(await verifyPassword(hash, 'correct')).toBe(false)
    expect(await verifyPassword(hash, '')).toBe(false)
  })

  it('takes a whole `username:hash` line as well as the hash alone', async () => {
    const hash = await hashPassword('pw')
    expect(await verifyPassword(`alice:${hash}`, 'pw')).toBe(true)
    expect(await verifyPassword(`alice:${hash}`, 'other')).toBe(false)
  })

  it('handles binary passwords (MQTT passwords are bytes)', async () => {
    const password = Buffer.from([0, 255, 1, 254, 0x80])
    const hash = await hashPassword(password)
    expect(await verifyPassword(hash, password)).toBe(true)
    expect(await verifyPassword(hash, Buffer.from([0, 255, 1, 254, 0x81]))).toBe(false)
  })

  it('parses what it writes', async () => {
    const parsed = parsePasswordHash(await hashPassword('x'))
    expect(parsed).toMatchObject({ scheme: 'scrypt', ...SCRYPT_DEFAULTS })
    if (parsed.scheme !== 'scrypt') throw new Error('unreachable')
    expect(parsed.salt).toHaveLength(16)
    expect(parsed.hash).toHaveLength(32)
  })

  it('verifies hashes with other scrypt parameters than the defaults', async () => {
    // N=1024 r=1 p=1, 16-byte key: computed with node:crypto's scryptSync('pw', 'salt-salt-salt-1', 16, ...)
    const { scryptSync } = await import('node:crypto')
    const salt = Buffer.from('salt-salt-salt-1')
    const key = scryptSync('pw', salt, 16, { N: 1024, r: 1, p: 1 })
    const encoded = `$scrypt$1024$1$1$${salt.toString('base64')}$${key.toString('base64')}`
    expect(await verifyPassword(encoded, 'pw')).toBe(true)
    expect(await verifyPassword(encoded, 'pW')).toBe(false)
  })

  it.each([
    ['', 'unknown hash scheme'],
    ['plain', 'starts with'],
    ['$1$abc$def', 'unknown hash scheme'],
    ['$scrypt$16384$8$1$c2FsdA==', 'expected $scrypt$'],
    ['$scrypt$1000$8$1$c2FsdA==$aGFzaA==', 'power of two'],
    ['$scrypt$16384$8$0$c2FsdA==$aGFzaA==', 'scrypt p'],
    ['$scrypt$1048576$8$1$c2FsdA==$aGFzaA==', 'MiB'],
    ['$scrypt$16384$8$1$not base64!$aGFzaA==', 'salt is not base64'],
    ['$scrypt$16384$8$1$c2FsdA==$', 'hash is not base64'],
    ['$7$0$c2FsdA==$aGFzaA==', 'iterations'],
    ['$6$c2FsdA==$aGFzaA==', '64 bytes'],
  ])('rejects the malformed hash %j', (encoded, message) => {
    expect(() => parsePasswordHash(encoded)).toThrow(AuthFileError)
    expect(() => parsePasswordHash(encoded)).toThrow(message)
  })

  it('does not block the event loop while hashing', async () => {
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    await Promise.all([hashPassword('a'), hashPassword('b'), hashPassword('c'), hashPassword('d')])
    clearInterval(timer)
    expect(ticks).toBeGreaterThan(0)
  })
})

describe('Mosquitto password hashes', () => {
  // Lines written by mosquitto_passwd 2.0.11: `-b` ($7$, PBKDF2-SHA512) and `-H sha512 -b` ($6$).
  const mosquitto7 =
    'alice:$7$101$rir+pe66rjlCn+T2$UIilV1Hhxg54dhbVL80BGZAMQPXIJu+2lfZQ2ZpzeV5vyYpOYqQYeq4xeEfKv+EC7JsJiQcTei+AbRPlYLwt7Q=='
  const mosquitto6 =
    'bob:$6$QhFR7prj42HSVjYx$H2GYfEZaVgarHHTy90OVM7pP5wbe8YCEkfMHPmQzd0wOoWVpWKpIOnEINJoUKoZZVdtMXL4gwRJBwwYMTf+DQA=='

  it('verifies $7$ (PBKDF2-SHA512) lines', async () => {
    expect(await verifyPassword(mosquitto7, 's3cret')).toBe(true)
    expect(await verifyPassword(mosquitto7, 's3creT')).toBe(false)
  })

  it('verifies $6$ (salted SHA-512) lines', async () => {
    expect(await verifyPassword(mosquitto6, 'pw2')).toBe(true)
    expect(await verifyPassword(mosquitto6, 'pw3')).toBe(false)
  })

  const dir = mkdtempSync(join(tmpdir(), 'wren-mosquitto-passwd-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('verifies what the installed mosquitto_passwd writes now', async () => {
    const file = join(dir, 'passwd')
    execFileSync('mosquitto_passwd', ['-c', '-b', file, 'carol', 'pä ss:word'])
    execFileSync('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'dave', 'another'])
    const [carol, dave] = readFileSync(file, 'utf8').trim().split('\n') as [string, string]
    expect(await verifyPassword(carol, 'pä ss:word')).toBe(true)
    expect(await verifyPassword(carol, 'pa ss:word')).toBe(false)
    expect(await verifyPassword(dave, 'another')).toBe(true)
  })
})
