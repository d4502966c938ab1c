import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ReasonCode, type ClientInfo, type Denial } from '@wren/core'
import { checkPassword, type PasswordFile } from './password-file.js'
import type { PasswordHash } from './password-hash.js'

export interface LoginGuardOptions {
  /** Password hashes computed at once (each scrypt check takes a libuv thread and 16 MiB). Default 2. */
  maxConcurrentChecks?: number
  /** Checks waiting for a slot; a login beyond them is refused at once with 0x89 Server busy. Default 64. */
  maxQueuedChecks?: number
  /** Failed logins from one address within `failureWindowMs` before its further attempts are refused unchecked. Default 10. */
  maxFailuresPerAddress?: number
  /** Default 60000. */
  failureWindowMs?: number
  /** How long a successful login is remembered, so the same user name and password skip the hash. 0 = never. Default 300000. */
  successCacheMs?: number
}

export type LoginOutcome = true | Denial

const BUSY: Denial = { ok: false, reasonCode: ReasonCode.ServerBusy, reason: 'too many logins in progress' }
const RATE_LIMITED: Denial = { ok: false, reasonCode: ReasonCode.ConnectionRateExceeded, reason: 'too many failed logins from this address' }
const BAD_CREDENTIALS: Denial = { ok: false, reasonCode: ReasonCode.BadUserNameOrPassword, reason: 'bad user name or password' }

/** Entries kept in each bounded table (failures per address, remembered logins). */
const MAX_TABLE_ENTRIES = 10_000

interface Failures {
  count: number
  since: number
}

interface Remembered {
  /** The file entry it was checked against: a reload that changes the user's hash forgets the login. */
  entry: PasswordHash
  digest: Buffer
  until: number
}

interface Waiting {
  client: ClientInfo
  /** true: the check holds a slot now; false: passed over, its client left. */
  resume: (granted: boolean) => void
}

/** Forgets the oldest entries of a Map (insertion order) beyond the table bound. */
function bound<K, V>(table: Map<K, V>): void {
  while (table.size > MAX_TABLE_ENTRIES) table.delete(table.keys().next().value as K)
}

/**
 * Password checks that a flood of CONNECTs cannot turn into a denial of service: a bounded number of hashes
 * at once with a bounded queue, queued checks of clients that already left skipped, failed attempts
 * limited per address, and recent successful logins remembered (as a keyed digest, never the password).
 */
export class LoginGuard {
  private readonly maxConcurrent: number
  private readonly maxQueued: number
  private readonly maxFailures: number
  private readonly failureWindow: number
  private readonly successTtl: number
  private running = 0
  private readonly queue: Waiting[] = []
  private readonly failures = new Map<string, Failures>()
  private readonly remembered = new Map<string, Remembered>()
  private readonly secret = randomBytes(32)

  constructor(options: LoginGuardOptions = {}) {
    this.maxConcurrent = Math.max(1, options.maxConcurrentChecks ?? 2)
    this.maxQueued = Math.max(0, options.maxQueuedChecks ?? 64)
    this.maxFailures = options.maxFailuresPerAddress ?? 10
    this.failureWindow = options.failureWindowMs ?? 60_000
    this.successTtl = options.successCacheMs ?? 300_000
  }

  async check(client: ClientInfo, passwords: PasswordFile, username: string, password: Buffer | undefined): Promise<LoginOutcome> {
    const entry = passwords.get(username)
    const digest = password === undefined ? undefined : this.digest(username, password)
    if (entry !== undefined && digest !== undefined && this.isRemembered(username, entry, digest)) return true
    const address = client.meta.remoteAddress
    if (address !== undefined && this.isLimited(address)) return RATE_LIMITED
    if (this.running >= this.maxConcurrent && this.queue.length >= this.maxQueued) return BUSY
    if (!(await this.slot(client))) return BAD_CREDENTIALS
    if (client.closed) {
      this.release()
      return BAD_CREDENTIALS
    }
    let ok: boolean
    try {
      ok = await checkPassword(passwords, username, password)
    } finally {
      this.release()
    }
    if (ok) {
      if (entry !== undefined && digest !== undefined && this.successTtl > 0) {
        this.remembered.delete(username)
        this.remembered.set(username, { entry, digest, until: Date.now() + this.successTtl })
        bound(this.remembered)
      }
      return true
    }
    if (address !== undefined) this.countFailure(address)
    return BAD_CREDENTIALS
  }

  private digest(username: string, password: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(username).update('\u0000').update(password).digest()
  }

  private isRemembered(username: string, entry: PasswordHash, digest: Buffer): boolean {
    const known = this.remembered.get(username)
    if (known === undefined) return false
    if (known.until < Date.now() || known.entry !== entry) {
      this.remembered.delete(username)
      return false
    }
    return timingSafeEqual(known.digest, digest)
  }

  private isLimited(address: string): boolean {
    const record = this.failures.get(address)
    if (record === undefined) return false
    if (Date.now() - record.since >= this.failureWindow) {
      this.failures.delete(address)
      return false
    }
    return record.count >= this.maxFailures
  }

  private countFailure(address: string): void {
    const now = Date.now()
    const record = this.failures.get(address)
    if (record === undefined || now - record.since >= this.failureWindow) {
      this.failures.delete(address)
      this.failures.set(address, { count: 1, since: now })
      bound(this.failures)
    } else record.count++
  }

  /** Resolves true when a check may run, false when its client left while it waited. */
  private slot(client: ClientInfo): Promise<boolean> {
    if (this.running < this.maxConcurrent) {
      this.running++
      return Promise.resolve(true)
    }
    return new Promise((resume) => this.queue.push({ client, resume }))
  }

  /** Hands the slot to the next waiting check whose client is still there. */
  private release(): void {
    let next = this.queue.shift()
    while (next !== undefined && next.client.closed) {
      next.resume(false)
      next = this.queue.shift()
    }
    if (next === undefined) this.running--
    else next.resume(true)
  }
}
