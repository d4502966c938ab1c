import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { checkPassword, PASSWD_USAGE, readPasswordFile, runPasswd, runPasswdCli, setPassword } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'wren-passwd-cmd-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const fresh = (): string => join(dir, `passwd-${++files}`)

/** A scripted terminal: answers prompts in order and records what was printed. */
function scripted(answers: string[] = []) {
  const questions: string[] = []
  let out = ''
  let err = ''
  return {
    io: {
      prompt: async (question: string) => {
        questions.push(question)
        const answer = answers.shift()
        if (answer === undefined) throw new Error('no more input')
        return answer
      },
      out: { write: (text: string) => (out += text) },
      err: { write: (text: string) => (err += text) },
    },
    questions,
    get out() {
      return out
    },
    get err() {
      return err
    },
  }
}

async function loginWorks(file: string, username: string, password: string): Promise<boolean> {
  return checkPassword(await readPasswordFile(file), username, password)
}

describe('wren passwd', () => {
  it('creates the file and adds a user with the password given on the command line', async () => {
    const file = fresh()
    const term = scripted()
    expect(await runPasswd([file, 'alice', 'pw-a'], term.io)).toBe(0)
    expect(term.questions).toEqual([])
    expect(term.out).toContain("Set the password of 'alice'")
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(await loginWorks(file, 'alice', 'pw-a')).toBe(true)
  })

  it('prompts twice when the password is left out', async () => {
    const file = fresh()
    const term = scripted(['typed pw', 'typed pw'])
    expect(await runPasswd([file, 'bob'], term.io)).toBe(0)
    expect(term.questions).toEqual(['Password: ', 'Reenter password: '])
    expect(await loginWorks(file, 'bob', 'typed pw')).toBe(true)
  })

  it('changes the password of an existing user', async () => {
    const file = fresh()
    await setPassword(file, 'bob', 'old')
    await setPassword(file, 'carol', 'carol-pw')
    expect(await runPasswd([file, 'bob'], scripted(['new', 'new']).io)).toBe(0)
    expect(await loginWorks(file, 'bob', 'new')).toBe(true)
    expect(await loginWorks(file, 'bob', 'old')).toBe(false)
    expect(await loginWorks(file, 'carol', 'carol-pw')).toBe(true)
  })

  it('refuses passwords that do not match, and empty ones, leaving the file alone', async () => {
    const file = fresh()
    await setPassword(file, 'bob', 'old')
    const before = readFileSync(file, 'utf8')
    const mismatch = scripted(['one', 'two'])
    expect(await runPasswd([file, 'bob'], mismatch.io)).toBe(1)
    expect(mismatch.err).toContain('do not match')
    const empty = scripted(['', ''])
    expect(await runPasswd([file, 'bob'], empty.io)).toBe(1)
    expect(empty.err).toContain('must not be empty')
    expect(readFileSync(file, 'utf8')).toBe(before)
  })

  it('refuses a user name the file cannot hold before prompting', async () => {
    const term = scripted(['pw', 'pw'])
    expect(await runPasswd([fresh(), 'a:b'], term.io)).toBe(1)
    expect(term.err).toContain("must not contain ':'")
    expect(term.questions).toEqual([])
  })

  it('ends with an error when the input runs out', async () => {
    const term = scripted(['only once'])
    expect(await runPasswd([fresh(), 'bob'], term.io)).toBe(1)
    expect(term.err).toContain('no more input')
  })

  it('deletes a user with -D', async () => {
    const file = fresh()
    await setPassword(file, 'alice', 'a')
    await setPassword(file, 'bob', 'b')
    const term = scripted()
    expect(await runPasswd(['-D', file, 'alice'], term.io)).toBe(0)
    expect(term.out).toContain("Deleted user 'alice'")
    expect([...(await readPasswordFile(file)).keys()]).toEqual(['bob'])
    const again = scripted()
    expect(await runPasswd(['-D', file, 'alice'], again.io)).toBe(1)
    expect(again.err).toContain("user 'alice' is not in")
    const missing = scripted()
    expect(await runPasswd(['-D', join(dir, 'absent'), 'alice'], missing.io)).toBe(1)
    expect(missing.err).toContain('does not exist')
  })

  it.each([[[]], [['file']], [['file', 'user', 'pw', 'extra']], [['-D', 'file']], [['-D', 'file', 'user', 'pw']], [['-x', 'file', 'user']]])(
    'prints usage and exits 2 for %j',
    async (argv) => {
      const term = scripted()
      expect(await runPasswd(argv, term.io)).toBe(2)
      expect(term.err).toBe(PASSWD_USAGE)
    },
  )

  it('prints usage on -h', async () => {
    const term = scripted()
    expect(await runPasswd(['-h'], term.io)).toBe(0)
    expect(term.out).toBe(PASSWD_USAGE)
  })
})

describe('runPasswdCli', () => {
  it('reads both answers from piped input, even when they arrive in one chunk', async () => {
    const file = fresh()
    const input = new PassThrough()
    const output = new PassThrough()
    const error = new PassThrough()
    let printed = ''
    output.on('data', (chunk: Buffer) => (printed += chunk.toString()))
    input.end('piped pw\npiped pw\n')
    expect(await runPasswdCli([file, 'dave'], { input, output, error })).toBe(0)
    expect(printed).toContain('Password: Reenter password: ')
    expect(await loginWorks(file, 'dave', 'piped pw')).toBe(true)
  })

  it('fails cleanly when the input ends before the second answer', async () => {
    const input = new PassThrough()
    const error = new PassThrough()
    let errors = ''
    error.on('data', (chunk: Buffer) => (errors += chunk.toString()))
    input.end('only one\n')
    expect(await runPasswdCli([fresh(), 'dave'], { input, output: new PassThrough(), error })).toBe(1)
    expect(errors).toContain('no password was entered')
  })
})
