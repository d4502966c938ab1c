import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { chmod, chown, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { AuthFileError, AuthFileErrorCode } from './auth-file-error.js'
import { DECOY_HASH, hashPassword, parsePasswordHash, verifyPassword, type PasswordHash } from './password-hash.js'

/**
 * A password file: one `username:hash` a line (see password-hash.ts for the hashes). Blank lines and lines
 * starting with `#` are skipped, and kept as they are when the file is edited.
 */
export type PasswordFile = ReadonlyMap<string, PasswordHash>

const NEW_FILE_MODE = 0o600

/** What is wrong with a user name for a password file, or undefined. */
export function usernameProblem(username: string): string | undefined {
  if (username.length === 0) return 'a user name must not be empty'
  if (username.includes(':')) return "a user name must not contain ':'"
  // A control character would split or hide a line; a leading '#' would read back as a comment.
  if (/[\u0000-\u001f\u007f]/.test(username)) return 'a user name must not contain control characters'
  if (username.startsWith('#')) return "a user name must not start with '#'"
  return undefined
}

function assertUsername(username: string): void {
  const problem = usernameProblem(username)
  if (problem !== undefined) throw new AuthFileError(AuthFileErrorCode.UsernameInvalid, problem)
}

function isEntry(line: string): boolean {
  return line.trim().length > 0 && !line.startsWith('#')
}

function entryUser(line: string): string | undefined {
  if (!isEntry(line)) return undefined
  const colon = line.indexOf(':')
  return colon === -1 ? undefined : line.slice(0, colon)
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/)
  if (lines[lines.length - 1] === '') lines.pop()
  return lines
}

/** Parses password file text; throws AuthFileError naming the line (never echoing it: it holds a hash). */
export function parsePasswordFile(text: string, file?: string): Map<string, PasswordHash> {
  const entries = new Map<string, PasswordHash>()
  splitLines(text).forEach((raw, index) => {
    const line = raw.trimEnd()
    if (!isEntry(line)) return
    const location = { file, line: index + 1 }
    const colon = line.indexOf(':')
    if (colon <= 0) throw new AuthFileError(AuthFileErrorCode.PasswordFileInvalid, 'expected username:hash', location)
    const username = line.slice(0, colon)
    if (entries.has(username)) {
      throw new AuthFileError(AuthFileErrorCode.PasswordFileInvalid, `user '${username}' is listed twice`, location)
    }
    try {
      entries.set(username, parsePasswordHash(line.slice(colon + 1)))
    } catch (error) {
      const detail = error instanceof AuthFileError ? error.detail : String(error)
      throw new AuthFileError(AuthFileErrorCode.PasswordFileInvalid, `user '${username}': ${detail}`, location)
    }
  })
  return entries
}

export async function readPasswordFile(path: string): Promise<PasswordFile> {
  return parsePasswordFile(await readFile(path, 'utf8'), path)
}

/** For loading at startup, where failing before the broker listens is what a host wants. */
export function readPasswordFileSync(path: string): PasswordFile {
  return parsePasswordFile(readFileSync(path, 'utf8'), path)
}

/**
 * Whether `username` may log in with `password`. An unknown user or a missing password costs the same
 * scrypt computation as a real check, so response time does not tell which user names exist.
 */
export async function checkPassword(
  file: PasswordFile,
  username: string,
  password: string | Buffer | undefined,
): Promise<boolean> {
  const entry = file.get(username)
  if (entry === undefined || password === undefined) {
    await verifyPassword(DECOY_HASH, password ?? '')
    return false
  }
  return verifyPassword(entry, password)
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

/**
 * Rewrites a password file through a temporary file and a rename, so a reader (the broker reloading on SIGHUP)
 * sees the old file or the new one, never half of one. A new file gets mode 0600; an existing one keeps its
 * mode and, when run as root, its owner.
 */
async function rewrite(
  path: string,
  create: boolean,
  edit: (lines: string[] | undefined) => string[] | undefined,
): Promise<void> {
  let target = path
  let text: string | undefined
  try {
    target = await realpath(path)
    text = await readFile(target, 'utf8')
  } catch (error) {
    if (!create || !isMissing(error)) throw error
  }
  const lines = edit(text === undefined ? undefined : splitLines(text))
  if (lines === undefined) return
  const existing = text === undefined ? undefined : await stat(target)
  const mode = existing === undefined ? NEW_FILE_MODE : existing.mode & 0o777
  const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(temporary, lines.map((line) => `${line}\n`).join(''), { mode: NEW_FILE_MODE, flag: 'wx' })
    await chmod(temporary, mode) // writeFile's mode is masked by the umask
    if (existing !== undefined && process.getuid?.() === 0) await chown(temporary, existing.uid, existing.gid)
    await rename(temporary, target)
  } catch (error) {
    await unlink(temporary).catch(() => undefined)
    throw error
  }
}

/** Adds a user or replaces the user's password; creates the file (mode 0600) when it does not exist. */
export async function setPassword(path: string, username: string, password: string | Buffer): Promise<void> {
  assertUsername(username)
  const line = `${username}:${await hashPassword(password)}`
  await rewrite(path, true, (lines = []) => {
    const index = lines.findIndex((existing) => entryUser(existing) === username)
    if (index === -1) return [...lines, line]
    const others = lines.filter((existing, i) => i < index || entryUser(existing) !== username)
    others.splice(index, 0, line)
    return others
  })
}

/** Removes a user; resolves false when the user was not in the file. A missing file is an error (ENOENT). */
export async function deletePassword(path: string, username: string): Promise<boolean> {
  let found = false
  await rewrite(path, false, (lines = []) => {
    const kept = lines.filter((line) => entryUser(line) !== username)
    found = kept.length !== lines.length
    return found ? kept : undefined
  })
  return found
}
