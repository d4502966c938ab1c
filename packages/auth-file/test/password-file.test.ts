import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  AuthFileError,
  checkPassword,
  deletePassword,
  hashPassword,
  parsePasswordFile,
  readPasswordFile,
  setPassword,
} from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'wren-passwd-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const fresh = (): string => join(dir, `passwd-${++files}`)
const mode = (path: string): number => statSync(path).mode & 0o777

describe('setPassword / deletePassword', () => {
  it('creates the file with mode 0600 whatever the umask', async () => {
    const file = fresh()
    const umask = process.umask(0)
    try {
      await setPassword(file, 'alice', 'pw-a')
    } finally {
      process.umask(umask)
    }
    expect(mode(file)).toBe(0o600)
    const entries = await readPasswordFile(file)
    expect([...entries.keys()]).toEqual(['alice'])
    expect(await checkPassword(entries, 'alice', 'pw-a')).toBe(true)
  })

  it('adds users after the existing ones and replaces a user in place', async () => {
    const file = fresh()
    await setPassword(file, 'alice', 'pw-a')
    await setPassword(file, 'bob', 'pw-b')
    await setPassword(file, 'carol', 'pw-c')
    const before = readFileSync(file, 'utf8').split('\n')
    await setPassword(file, 'bob', 'new-b')
    const after = readFileSync(file, 'utf8').split('\n')
    expect(after.map((line) => line.split(':')[0])).toEqual(['alice', 'bob', 'carol', ''])
    expect(after[0]).toBe(before[0])
    expect(after[2]).toBe(before[2])
    const entries = await readPasswordFile(file)
    expect(await checkPassword(entries, 'bob', 'new-b')).toBe(true)
    expect(await checkPassword(entries, 'bob', 'pw-b')).toBe(false)
    expect(await checkPassword(entries, 'alice', 'pw-a')).toBe(true)
  })

  it('keeps comments, blank lines and an existing file mode', async () => {
    const file = fresh()
    writeFileSync(file, `# managed by ops\n\nalice:${await hashPassword('pw-a')}\n`)
    chmodSync(file, 0o640)
    await setPassword(file, 'bob', 'pw-b')
    expect(mode(file)).toBe(0o640)
    const lines = readFileSync(file, 'utf8').split('\n')
    expect(lines.slice(0, 2)).toEqual(['# managed by ops', ''])
    expect(lines[2]?.startsWith('alice:$scrypt$')).toBe(true)
    expect(lines[3]?.startsWith('bob:$scrypt$')).toBe(true)
  })

  it('deletes a user and reports whether it was there', async () => {
    const file = fresh()
    await setPassword(file, 'alice', 'pw-a')
    await setPassword(file, 'bob', 'pw-b')
    expect(await deletePassword(file, 'alice')).toBe(true)
    expect(await deletePassword(file, 'alice')).toBe(false)
    expect([...(await readPasswordFile(file)).keys()]).toEqual(['bob'])
    expect(mode(file)).toBe(0o600)
  })

  it('refuses to delete from a file that does not exist', async () => {
    await expect(deletePassword(join(dir, 'missing'), 'alice')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('edits the target of a symlink and leaves the link in place', async () => {
    const target = fresh()
    const link = join(dir, `link-${files}`)
    await setPassword(target, 'alice', 'pw-a')
    symlinkSync(target, link)
    await setPassword(link, 'bob', 'pw-b')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect([...(await readPasswordFile(target)).keys()]).toEqual(['alice', 'bob'])
  })

  it.each(['', 'a:b', 'new\nline', '#comment', 'tab\there'])('rejects the user name %j', async (username) => {
    const file = fresh()
    await expect(setPassword(file, username, 'pw')).rejects.toMatchObject({ code: 'WREN_USERNAME_INVALID' })
    expect(() => statSync(file)).toThrow()
  })

  it('accepts user names with spaces and non-ASCII letters', async () => {
    const file = fresh()
    await setPassword(file, 'Zoë Smith', 'pw')
    expect(await checkPassword(await readPasswordFile(file), 'Zoë Smith', 'pw')).toBe(true)
  })
})

describe('parsePasswordFile', () => {
  it('reads CRLF files, comments and Mosquitto entries', async () => {
    const hash = await hashPassword('pw')
    const text = `# users\r\nalice:${hash}\r\n\r\nbob:$6$QhFR7prj42HSVjYx$H2GYfEZaVgarHHTy90OVM7pP5wbe8YCEkfMHPmQzd0wOoWVpWKpIOnEINJoUKoZZVdtMXL4gwRJBwwYMTf+DQA==\r\n`
    const entries = parsePasswordFile(text)
    expect([...entries.keys()]).toEqual(['alice', 'bob'])
    expect(await checkPassword(entries, 'alice', 'pw')).toBe(true)
    expect(await checkPassword(entries, 'bob', 'pw2')).toBe(true)
  })

  it('names the file and line of a bad entry without echoing the hash', () => {
    const error = (() => {
      try {
        parsePasswordFile('alice:$scrypt$16384$8$1$c2FsdA==$aGFzaA==\nbob:$scrypt$16384$8$1$c2FsdA==\n', '/etc/wren/passwd')
      } catch (caught) {
        return caught
      }
      return undefined
    })()
    expect(error).toBeInstanceOf(AuthFileError)
    expect(error).toMatchObject({ code: 'WREN_PASSWORD_FILE_INVALID', file: '/etc/wren/passwd', line: 2 })
    expect((error as Error).message).toContain("/etc/wren/passwd:2: user 'bob'")
    expect((error as Error).message).not.toContain('c2FsdA')
  })

  it('refuses a user listed twice and a line without a colon', () => {
    const line = 'alice:$scrypt$16384$8$1$c2FsdA==$aGFzaA=='
    expect(() => parsePasswordFile(`${line}\n${line}\n`)).toThrow("user 'alice' is listed twice")
    expect(() => parsePasswordFile('just-a-name\n')).toThrow('expected username:hash')
    expect(() => parsePasswordFile(':$scrypt$16384$8$1$c2FsdA==$aGFzaA==\n')).toThrow('expected username:hash')
  })
})

describe('checkPassword', () => {
  it('refuses an unknown user and a missing password', async () => {
    const entries = parsePasswordFile(`alice:${await hashPassword('pw')}\n`)
    expect(await checkPassword(entries, 'mallory', 'pw')).toBe(false)
    expect(await checkPassword(entries, 'alice', undefined)).toBe(false)
    expect(await checkPassword(entries, 'alice', 'nope')).toBe(false)
    expect(await checkPassword(entries, 'alice', 'pw')).toBe(true)
  })

  it('spends as long on an unknown user as on a wrong password', async () => {
    const entries = parsePasswordFile(`alice:${await hashPassword('pw')}\n`)
    const time = async (username: string): Promise<number> => {
      const start = process.hrtime.bigint()
      for (let i = 0; i < 5; i++) await checkPassword(entries, username, 'wrong')
      return Number(process.hrtime.bigint() - start) / 5e6
    }
    await time('alice') // warm up
    const known = await time('alice')
    const unknown = await time('mallory')
    // Both are one scrypt with the same parameters; a shortcut for unknown users would be ~1000x faster.
    expect(unknown).toBeGreaterThan(known / 10)
  })
})
