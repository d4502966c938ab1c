import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isSharedFilter, parseSharedFilter, topicFilterProblem, topicMatches } from '@wren/core'
import { AuthFileError, AuthFileErrorCode } from './auth-file-error.js'
import { filterCovers } from './filter-covers.js'

export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny'

export interface AclRule {
  readonly access: AclAccess
  /** A topic filter; in a pattern, `%c` and `%u` stand for the client id and the user name. */
  readonly filter: string
  /** 1-based line in the file, for messages. */
  readonly line: number
}

/** A parsed Mosquitto ACL file. */
export interface Acl {
  /** `topic` lines before the first `user` line: they apply to clients without a user name. */
  readonly anonymous: readonly AclRule[]
  /** `topic` lines under `user <name>`; a user named twice gets both sections. */
  readonly users: ReadonlyMap<string, readonly AclRule[]>
  /** `pattern` lines, wherever they stand: they apply to every client. */
  readonly patterns: readonly AclRule[]
}

export interface AclSubject {
  clientId: string
  username: string | undefined
}

/** One client's view of an ACL: patterns substituted, rules sorted by what they allow. */
export interface ClientAcl {
  /** May a message on `topic` be delivered to this client? */
  canRead(topic: string): boolean
  /** May this client publish to `topic`? */
  canWrite(topic: string): boolean
  /**
   * May this client subscribe to `filter`? Granted when a readable ACL filter covers the whole subscription
   * and no deny filter does. A subscription that overlaps a deny filter (`#` next to `deny secret/#`) is
   * granted, and `canRead` drops the denied messages one by one, as Mosquitto does.
   */
  canSubscribe(filter: string): boolean
}

const ACCESS: ReadonlySet<string> = new Set<AclAccess>(['read', 'write', 'readwrite', 'deny'])
const PLACEHOLDER = /%[cu]/
const PLACEHOLDERS = /%[cu]/g

function splitWord(text: string): [word: string, rest: string] {
  const match = /^(\S+)\s*(.*)$/.exec(text)
  return match ? [match[1] as string, match[2] as string] : ['', '']
}

/**
 * Parses Mosquitto's ACL syntax: `user <name>`, `topic [read|write|readwrite|deny] <filter>` (readwrite when
 * the access is left out) and `pattern [access] <filter>`; `#` starts a comment line. As in Mosquitto, the user
 * name and the filter are the rest of the line, so they may contain spaces.
 */
export function parseAcl(text: string, file?: string): Acl {
  const anonymous: AclRule[] = []
  const users = new Map<string, AclRule[]>()
  const patterns: AclRule[] = []
  let section = anonymous
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (line.length === 0 || line.startsWith('#')) return
    const location = { file, line: index + 1 }
    const fail = (message: string): never => {
      throw new AuthFileError(AuthFileErrorCode.AclFileInvalid, message, location)
    }
    const [keyword, rest] = splitWord(line)
    if (keyword === 'user') {
      if (rest.length === 0) fail('`user` needs a user name')
      section = users.get(rest) ?? []
      users.set(rest, section)
      return
    }
    if (keyword !== 'topic' && keyword !== 'pattern') fail(`unknown keyword '${keyword}' (expected user, topic or pattern)`)
    const [first, afterFirst] = splitWord(rest)
    let access: AclAccess = 'readwrite'
    let filter = rest
    if (ACCESS.has(first)) {
      if (afterFirst.length === 0) fail(`\`${keyword} ${first}\` needs a topic filter`)
      access = first as AclAccess
      filter = afterFirst
    }
    if (filter.length === 0) fail(`\`${keyword}\` needs a topic filter`)
    const problem = topicFilterProblem(filter)
    if (problem !== undefined) fail(`'${filter}' is not a valid topic filter (${problem})`)
    // Mosquitto would take them literally, which is never what the author meant.
    if (keyword === 'topic' && PLACEHOLDER.test(filter)) fail('%c and %u are substituted in `pattern` lines only')
    ;(keyword === 'pattern' ? patterns : section).push({ access, filter, line: index + 1 })
  })
  return { anonymous, users, patterns }
}

export async function readAclFile(path: string): Promise<Acl> {
  return parseAcl(await readFile(path, 'utf8'), path)
}

/** For loading at startup, where failing before the broker listens is what a host wants. */
export function readAclFileSync(path: string): Acl {
  return parseAcl(readFileSync(path, 'utf8'), path)
}

const NOTHING: ClientAcl = { canRead: () => false, canWrite: () => false, canSubscribe: () => false }

/**
 * Compiles the rules that apply to one client. A client id or user name holding `+` or `#` gets nothing at
 * all, as in Mosquitto: substituted into a pattern it would widen the grant. One holding `/` gets no grant from
 * a pattern that uses it (stricter than Mosquitto: client id `alice/x` must not reach `devices/alice/...`), while
 * deny patterns still apply to it.
 */
export function clientAcl(acl: Acl, subject: AclSubject): ClientAcl {
  const { clientId, username } = subject
  if (/[+#]/.test(clientId) || (username !== undefined && /[+#]/.test(username))) return NOTHING
  const read: string[] = []
  const write: string[] = []
  const deny: string[] = []
  const add = (access: AclAccess, filter: string): void => {
    if (access === 'deny') deny.push(filter)
    if (access === 'read' || access === 'readwrite') read.push(filter)
    if (access === 'write' || access === 'readwrite') write.push(filter)
  }
  for (const rule of username === undefined ? acl.anonymous : (acl.users.get(username) ?? [])) add(rule.access, rule.filter)
  for (const rule of acl.patterns) {
    const filter = substitute(rule, clientId, username)
    if (filter !== undefined) add(rule.access, filter)
  }
  const readable = (topic: string): boolean => !matchesAny(deny, topic) && matchesAny(read, topic)
  return {
    canRead: readable,
    canWrite: (topic) => !matchesAny(deny, topic) && matchesAny(write, topic),
    canSubscribe: (filter) => {
      const plain = isSharedFilter(filter) ? parseSharedFilter(filter)?.filter : filter
      if (plain === undefined) return false
      return !deny.some((denied) => filterCovers(denied, plain)) && read.some((granted) => filterCovers(granted, plain))
    },
  }
}

function substitute(rule: AclRule, clientId: string, username: string | undefined): string | undefined {
  let unusable = false
  const filter = rule.filter.replace(PLACEHOLDERS, (placeholder) => {
    const value = placeholder === '%c' ? clientId : username
    if (value === undefined || (value.includes('/') && rule.access !== 'deny')) unusable = true
    return value ?? ''
  })
  return unusable ? undefined : filter
}

function matchesAny(filters: readonly string[], topic: string): boolean {
  for (const filter of filters) if (topicMatches(filter, topic)) return true
  return false
}
