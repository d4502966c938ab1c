import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { ReasonCode, type ClientInfo, type Denial } from '@wren/core'
import { checkPassword, type PasswordFile } from './password-file.js'
import type { PasswordHash } from './password-hash.js'

export interface LoginGuardOptions {
  /**
   * Password hashes computed at once (each scrypt check takes a libuv thread, a core and 16 MiB). Default 2, or 1
   * on a machine with fewer than 3 cores: a core stays free for the event loop, which serves every client.
   */
  maxConcurrentChecks?: number
  /** Checks waiting for a slot; a login beyond them is refused at once with 0x89 Server busy. Default 64. */
  maxQueuedChecks?: number
  /**
   * Failed logins from one address within `failureWindowMs` before its further attempts are refused unchecked.
   * Checks of that address still waiting or running count as failures until they end, so a burst cannot queue
   * more checks than this either. Default 10.
   */
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
  address: string | undefined
  /** true: the check holds a slot now; false: passed over, its client left. */
  resume: (granted: boolean) => void
}

/** Checks of one address that are waiting or running. */
interface InProgress {
  waiting: number
  running: number
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
  private readonly inProgress = new Map<string, InProgress>()
  private readonly failures = new Map<string, Failures>()
  private readonly remembered = new Map<string, Remembered>()
  private readonly secret = randomBytes(32)

  constructor(options: LoginGuardOptions = {}) {
    this.maxConcurrent = Math.max(1, options.maxConcurrentChecks ?? Math.min(2, availableParallelism() - 1))
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
    if (!(await this.slot(client, address))) return BAD_CREDENTIALS
    if (client.closed) {
      this.release(address)
      return BAD_CREDENTIALS
    }
    let ok: boolean
    try {
      ok = await checkPassword(passwords, username, password)
    } finally {
      this.release(address)
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
    const progress = this.inProgress.get(address)
    return this.failuresOf(address) + (progress === undefined ? 0 : progress.waiting + progress.running) >= this.maxFailures
  }

  private failuresOf(address: string): number {
    const record = this.failures.get(address)
    if (record === undefined) return 0
    if (Date.now() - record.since >= this.failureWindow) {
      this.failures.delete(address)
      return 0
    }
    return record.count
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

  private progressOf(address: string): InProgress {
    let progress = this.inProgress.get(address)
    if (progress === undefined) {
      progress = { waiting: 0, running: 0 }
      this.inProgress.set(address, progress)
    }
    return progress
  }

  /** Resolves true when a check may run, false when its client left while it waited. */
  private slot(client: ClientInfo, address: string | undefined): Promise<boolean> {
    const progress = address === undefined ? undefined : this.progressOf(address)
    if (this.running < this.maxConcurrent) {
      this.running++
      if (progress) progress.running++
      return Promise.resolve(true)
    }
    if (progress) progress.waiting++
    return new Promise((resume) => this.queue.push({ client, address, resume }))
  }

  /**
   * Hands the slot on. Waiting checks of clients that left are passed over; of the others, the first whose
   * address has no check running goes first, so one flooding address cannot keep everybody else waiting.
   */
  private release(address: string | undefined): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const waiting = this.queue[i] as Waiting
      if (!waiting.client.closed) continue
      this.queue.splice(i, 1)
      if (waiting.address !== undefined) this.settle(waiting.address, 'waiting')
      waiting.resume(false)
    }
    if (this.queue.length === 0) {
      this.running--
      if (address !== undefined) this.settle(address, 'running')
      return
    }
    // The releasing address still counts as running here: the slot goes to another address first.
    const idle = this.queue.findIndex((waiting) => waiting.address === undefined || (this.inProgress.get(waiting.address)?.running ?? 0) === 0)
    const next = this.queue.splice(idle === -1 ? 0 : idle, 1)[0] as Waiting
    if (address !== undefined) this.settle(address, 'running')
    if (next.address !== undefined) {
      this.settle(next.address, 'waiting')
      this.progressOf(next.address).running++
    }
    next.resume(true)
  }

  private settle(address: string, state: keyof InProgress): void {
    const progress = this.inProgress.get(address)
    if (progress === undefined) return
    progress[state]--
    if (progress.waiting === 0 && progress.running === 0) this.inProgress.delete(address)
  }
}
