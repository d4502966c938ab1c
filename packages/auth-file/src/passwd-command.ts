import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { deletePassword, setPassword, usernameProblem } from './password-file.js'

export interface PasswdIo {
  /** Asks for one line; rejects when there is no more input. */
  prompt(question: string): Promise<string>
  out: { write(text: string): unknown }
  err: { write(text: string): unknown }
}

export const PASSWD_USAGE = `Usage: wren passwd <password-file> <username> [<password>]
       wren passwd -D <password-file> <username>

Adds a user to a password file or changes the user's password, prompting twice when
<password> is left out. The file is created with mode 0600 when it does not exist.
  -D   delete the user from the file
`

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOENT') return 'the password file does not exist'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return error instanceof Error ? error.message : String(error)
}

async function askPassword(io: PasswdIo): Promise<string | undefined> {
  const first = await io.prompt('Password: ')
  const second = await io.prompt('Reenter password: ')
  if (first !== second) {
    io.err.write('Error: the passwords do not match.\n')
    return undefined
  }
  return first
}

/**
 * `wren passwd ...`: `argv` holds the arguments after `passwd`. Resolves the exit code:
 * 0 done, 1 failed, 2 wrong usage.
 */
export async function runPasswd(argv: readonly string[], io: PasswdIo): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.out.write(PASSWD_USAGE)
    return 0
  }
  const deleting = argv[0] === '-D'
  const args = deleting ? argv.slice(1) : argv
  const [file, username, given] = args
  const unknownOption = !deleting && argv[0]?.startsWith('-') === true
  const wrongCount = deleting ? args.length !== 2 : args.length !== 2 && args.length !== 3
  if (unknownOption || wrongCount || file === undefined || username === undefined) {
    io.err.write(PASSWD_USAGE)
    return 2
  }
  try {
    if (deleting) {
      if (!(await deletePassword(file, username))) {
        io.err.write(`Error: user '${username}' is not in ${file}.\n`)
        return 1
      }
      io.out.write(`Deleted user '${username}' from ${file}.\n`)
      return 0
    }
    const problem = usernameProblem(username)
    if (problem !== undefined) {
      io.err.write(`Error: ${problem}.\n`)
      return 1
    }
    const password = given ?? (await askPassword(io))
    if (password === undefined) return 1
    if (password.length === 0) {
      io.err.write('Error: the password must not be empty.\n')
      return 1
    }
    await setPassword(file, username, password)
    io.out.write(`Set the password of '${username}' in ${file}.\n`)
    return 0
  } catch (error) {
    io.err.write(`Error: ${describe(error)}.\n`)
    return 1
  }
}

interface TerminalStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean }
  output: NodeJS.WritableStream
  error: NodeJS.WritableStream
}

/** `runPasswd` on a terminal: typed passwords are not echoed; piped input is read a line per prompt. */
export async function runPasswdCli(
  argv: readonly string[],
  streams: TerminalStreams = { input: process.stdin, output: process.stdout, error: process.stderr },
): Promise<number> {
  const { input, output, error } = streams
  const hidden = input.isTTY === true
  let muted = false
  // readline echoes keystrokes through its output stream: this one drops them while a password is typed.
  const echo = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) output.write(chunk)
      callback()
    },
  })
  let lines: AsyncIterator<string> | undefined
  let close = (): void => undefined
  const prompt = async (question: string): Promise<string> => {
    if (lines === undefined) {
      // Created on the first prompt only: a command that needs no input must not hold stdin open.
      const reader = createInterface({ input, output: echo, terminal: hidden })
      reader.on('SIGINT', () => reader.close())
      close = () => reader.close()
      lines = reader[Symbol.asyncIterator]()
    }
    output.write(question)
    muted = hidden
    try {
      const line = await lines.next()
      if (line.done === true) throw new Error('no password was entered')
      return line.value
    } finally {
      muted = false
      if (hidden) output.write('\n')
    }
  }
  try {
    return await runPasswd(argv, { prompt, out: output, err: error })
  } finally {
    close()
  }
}
