import Database from 'better-sqlite3'
import { topicMatches } from '@wren/core'
import type {
  ClientSubscriptions,
  Message,
  OutboundEntry,
  OutboundTarget,
  Persistence,
  ProtocolVersion,
  QoS,
  RetainHandling,
  SessionRecord,
  Subscription,
  WillRecord,
} from '@wren/core'
import { GroupCommit } from './group-commit.js'
import { MESSAGE_FIELDS, MESSAGE_PARAMS, type MessageRow, messageToRow, rowToMessage } from './message-row.js'
import { QueueLengths, type QueueSize } from './queue-lengths.js'
import { migrate } from './schema.js'

export interface SqlitePersistenceOptions {
  /** The database file, created when missing; ':memory:' for a throwaway store. */
  path: string
  /**
   * 'normal' (default): what was acknowledged survives a crash or SIGKILL of the process; a power cut may take
   * the last commits. 'full' also survives a power cut, at the cost of an fsync per commit (one per batch of
   * writes, see GroupCommit).
   */
  synchronous?: 'normal' | 'full'
}

interface SessionRow {
  client_id: string
  protocol_version: number
  expiry_interval: number
  disconnected_at: number | null
  broker_id: string | null
}

interface SubscriptionRow {
  client_id: string
  filter: string
  qos: number
  no_local: number | null
  retain_as_published: number | null
  retain_handling: number | null
  subscription_identifier: number | null
}

interface OutboundRow extends MessageRow {
  delivery_qos: number
  state: OutboundEntry['state']
  packet_id: number | null
  subscription_identifiers: string | null
  delivery_retain: number | null
}

/**
 * An entry just deleted, as one value so that an ack makes no object: the size of the body it carried, or the id
 * of the message whose body it shared in `messages`.
 */
type RemovedEntry = number | string

interface WillRow extends MessageRow {
  client_id: string
  broker_id: string | null
  delay_interval: number
}

function flag(value: boolean | undefined): number | null {
  return value === undefined ? null : value ? 1 : 0
}

/** Whether a message of `size` bytes fits in `queue` within the bounds given. */
function fits(queue: QueueSize, size: number, limit: number | undefined, byteLimit: number | undefined): boolean {
  return (limit === undefined || queue.entries < limit) && (byteLimit === undefined || queue.bytes + size <= byteLimit)
}

function identifiersOf(target: OutboundTarget): string | null {
  return target.subscriptionIdentifiers === undefined ? null : JSON.stringify(target.subscriptionIdentifiers)
}

function rowToSession(row: SessionRow): SessionRecord {
  const record: SessionRecord = {
    clientId: row.client_id,
    protocolVersion: row.protocol_version as ProtocolVersion,
    expiryInterval: row.expiry_interval,
  }
  if (row.disconnected_at !== null) record.disconnectedAt = row.disconnected_at
  if (row.broker_id !== null) record.brokerId = row.broker_id
  return record
}

function rowToSubscription(row: SubscriptionRow): Subscription {
  const subscription: Subscription = { filter: row.filter, qos: row.qos as QoS }
  if (row.no_local !== null) subscription.noLocal = row.no_local === 1
  if (row.retain_as_published !== null) subscription.retainAsPublished = row.retain_as_published === 1
  if (row.retain_handling !== null) subscription.retainHandling = row.retain_handling as RetainHandling
  if (row.subscription_identifier !== null) subscription.subscriptionIdentifier = row.subscription_identifier
  return subscription
}

function rowToEntry(row: OutboundRow): OutboundEntry {
  const entry: OutboundEntry = { message: rowToMessage(row), qos: row.delivery_qos as QoS, state: row.state }
  if (row.packet_id !== null) entry.packetId = row.packet_id
  if (row.subscription_identifiers !== null) entry.subscriptionIdentifiers = JSON.parse(row.subscription_identifiers) as number[]
  if (row.delivery_retain !== null) entry.retain = row.delivery_retain === 1
  return entry
}

function rowToWill(row: WillRow): WillRecord {
  const record: WillRecord = { clientId: row.client_id, delayInterval: row.delay_interval, message: rowToMessage(row) }
  if (row.broker_id !== null) record.brokerId = row.broker_id
  return record
}

/** What a DELETE from `outbound` returns, plucked: its RemovedEntry (`payload` is NULL when the body is shared). */
const REMOVED = 'coalesce(length(payload), message_id)'

function prepareStatements(db: Database.Database) {
  // An entry either carries its body (topic is set) or shares one in `messages`: the join finds no row for the
  // first kind, so each coalesce picks the entry's own column, and the second kind's columns are all NULL.
  const withBody = 'FROM outbound o LEFT JOIN messages m ON o.topic IS NULL AND m.message_id = o.message_id'
  const outboundSelect = `SELECT o.qos AS delivery_qos, o.state, o.packet_id, o.subscription_identifiers, o.retain AS delivery_retain,
    o.message_id, coalesce(o.topic, m.topic) AS topic, coalesce(o.payload, m.payload) AS payload,
    coalesce(o.message_qos, m.qos) AS qos, coalesce(o.message_retain, m.retain) AS retain, coalesce(o.origin, m.origin) AS origin,
    coalesce(o.expires_at, m.expires_at) AS expires_at, coalesce(o.properties, m.properties) AS properties,
    coalesce(o.correlation_data, m.correlation_data) AS correlation_data
    ${withBody}`
  return {
    retainedUpsert: db.prepare<[MessageRow]>(
      `INSERT INTO retained (${MESSAGE_FIELDS}) VALUES (${MESSAGE_PARAMS})
       ON CONFLICT (topic) DO UPDATE SET ${MESSAGE_FIELDS.split(', ')
         .map((column) => `${column} = excluded.${column}`)
         .join(', ')}`,
    ),
    retainedDelete: db.prepare<[string]>('DELETE FROM retained WHERE topic = ?'),
    retainedDeleteExpired: db.prepare<[string, number]>('DELETE FROM retained WHERE topic = ? AND expires_at < ?'),
    retainedByTopic: db.prepare<[string], MessageRow>(`SELECT ${MESSAGE_FIELDS} FROM retained WHERE topic = ?`),
    retainedByRange: db.prepare<[string, string], MessageRow>(
      `SELECT ${MESSAGE_FIELDS} FROM retained WHERE topic >= ? AND topic < ?`,
    ),
    retainedAll: db.prepare<[], MessageRow>(`SELECT ${MESSAGE_FIELDS} FROM retained`),
    retainedCount: db.prepare<[], number>('SELECT count(*) FROM retained').pluck(),
    // length() of a BLOB reads its size from the record, not its content
    retainedBytes: db.prepare<[], number>('SELECT coalesce(sum(length(payload)), 0) FROM retained').pluck(),

    sessionUpsert: db.prepare<[SessionRow]>(
      `INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval, disconnected_at, broker_id)
       VALUES (@client_id, @protocol_version, @expiry_interval, @disconnected_at, @broker_id)`,
    ),
    sessionGet: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE client_id = ?'),
    sessionDelete: db.prepare<[string]>('DELETE FROM sessions WHERE client_id = ?'),
    sessionAll: db.prepare<[], SessionRow>('SELECT * FROM sessions'),
    sessionCount: db.prepare<[], number>('SELECT count(*) FROM sessions').pluck(),

    subscriptionUpsert: db.prepare<[SubscriptionRow]>(
      `INSERT OR REPLACE INTO subscriptions
       (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_identifier)
       VALUES (@client_id, @filter, @qos, @no_local, @retain_as_published, @retain_handling, @subscription_identifier)`,
    ),
    subscriptionDelete: db.prepare<[string, string]>('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?'),
    subscriptionsDeleteClient: db.prepare<[string]>('DELETE FROM subscriptions WHERE client_id = ?'),
    subscriptionsOfClient: db.prepare<[string], SubscriptionRow>('SELECT * FROM subscriptions WHERE client_id = ?'),
    subscriptionsAll: db.prepare<[], SubscriptionRow>('SELECT * FROM subscriptions ORDER BY client_id'),

    messageInsert: db.prepare<[MessageRow]>(`INSERT OR IGNORE INTO messages (${MESSAGE_FIELDS}) VALUES (${MESSAGE_PARAMS})`),
    messageDeleteUnreferenced: db.prepare<[string, string]>(
      'DELETE FROM messages WHERE message_id = ? AND NOT EXISTS (SELECT 1 FROM outbound WHERE message_id = ? AND topic IS NULL)',
    ),
    outboundHas: db.prepare<[string, string], number>('SELECT 1 FROM outbound WHERE client_id = ? AND message_id = ?').pluck(),
    outboundCount: db.prepare<[string], number>('SELECT count(*) FROM outbound WHERE client_id = ?').pluck(),
    outboundSize: db.prepare<[string], QueueSize>(
      `SELECT count(*) AS entries, coalesce(sum(coalesce(length(o.payload), length(m.payload))), 0) AS bytes
       ${withBody} WHERE o.client_id = ?`,
    ),
    messageBytes: db.prepare<[string], number>('SELECT length(payload) FROM messages WHERE message_id = ?').pluck(),
    outboundDropOldestQueued: db.prepare<[string], RemovedEntry>(
      `DELETE FROM outbound WHERE seq = (SELECT seq FROM outbound WHERE client_id = ? AND state = 'queued' ORDER BY seq LIMIT 1)
       RETURNING ${REMOVED}`,
    ).pluck(),
    outboundInsert: db.prepare<[string, string, number, string | null, number | null]>(
      `INSERT INTO outbound (client_id, message_id, qos, state, subscription_identifiers, retain) VALUES (?, ?, ?, 'queued', ?, ?)`,
    ),
    // The entry of a message's only copy, with its body. A second copy of a message for the same client is not
    // queued: the conflict is the duplicate check.
    outboundInsertWithBody: db.prepare<
      [string, string, number, string | null, number | null, string, Buffer, number, number, string | null, number | null, string | null, Buffer | null]
    >(
      `INSERT INTO outbound (client_id, message_id, qos, state, subscription_identifiers, retain,
         topic, payload, message_qos, message_retain, origin, expires_at, properties, correlation_data)
       VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_id, message_id) DO NOTHING`,
    ),
    outboundSent: db.prepare<[number, string, string]>(
      `UPDATE outbound SET state = 'sent', packet_id = ? WHERE client_id = ? AND message_id = ?`,
    ),
    outboundReleased: db.prepare<[string, number]>(`UPDATE outbound SET state = 'released' WHERE client_id = ? AND packet_id = ?`),
    outboundAck: db
      .prepare<[string, number], RemovedEntry>(`DELETE FROM outbound WHERE client_id = ? AND packet_id = ? RETURNING ${REMOVED}`)
      .pluck(),
    outboundRemove: db
      .prepare<[string, string], RemovedEntry>(`DELETE FROM outbound WHERE client_id = ? AND message_id = ? RETURNING ${REMOVED}`)
      .pluck(),
    outboundDeleteClient: db.prepare<[string], RemovedEntry>(`DELETE FROM outbound WHERE client_id = ? RETURNING ${REMOVED}`).pluck(),
    outboundList: db.prepare<[string], OutboundRow>(`${outboundSelect} WHERE o.client_id = ? ORDER BY o.seq`),

    incomingAdd: db.prepare<[string, number]>('INSERT OR IGNORE INTO incoming (client_id, packet_id) VALUES (?, ?)'),
    incomingHas: db.prepare<[string, number], number>('SELECT 1 FROM incoming WHERE client_id = ? AND packet_id = ?').pluck(),
    incomingRemove: db.prepare<[string, number]>('DELETE FROM incoming WHERE client_id = ? AND packet_id = ?'),
    incomingDeleteClient: db.prepare<[string]>('DELETE FROM incoming WHERE client_id = ?'),

    willUpsert: db.prepare<[WillRow]>(
      `INSERT OR REPLACE INTO wills (client_id, broker_id, delay_interval, ${MESSAGE_FIELDS})
       VALUES (@client_id, @broker_id, @delay_interval, ${MESSAGE_PARAMS})`,
    ),
    willGet: db.prepare<[string], WillRow>('SELECT * FROM wills WHERE client_id = ?'),
    willDelete: db.prepare<[string]>('DELETE FROM wills WHERE client_id = ?'),

    sessionDataUpsert: db.prepare<[string, string, string]>('INSERT OR REPLACE INTO session_data (client_id, key, value) VALUES (?, ?, ?)'),
    sessionDataGet: db.prepare<[string, string], string>('SELECT value FROM session_data WHERE client_id = ? AND key = ?').pluck(),
    sessionDataDeleteClient: db.prepare<[string]>('DELETE FROM session_data WHERE client_id = ?'),
    willAll: db.prepare<[], WillRow>('SELECT * FROM wills'),
  }
}

type Statements = ReturnType<typeof prepareStatements>

function prepareTransactions(db: Database.Database, s: Statements, lengths: QueueLengths) {
  /**
   * Bodies whose last queue entry may be gone, deleted at the batch's COMMIT unless an entry took them since.
   * Deferring the delete makes an ack or a remove one statement, atomic on its own, so it needs no savepoint.
   */
  const orphans = new Set<string>()
  /**
   * An entry of `clientId`'s queue is gone: its size leaves the tracked total; a shared body goes once
   * unreferenced, a body of its own went with it.
   */
  const left = (clientId: string, removed: RemovedEntry): void => {
    if (typeof removed === 'number') {
      lengths.add(clientId, -1, -removed)
      return
    }
    if (lengths.tracks(clientId)) lengths.add(clientId, -1, -(s.messageBytes.get(removed) ?? 0))
    orphans.add(removed)
  }
  /** Queues the only copy of `message`, body included; false when the client's queue holds it already. */
  const insertWithBody = (target: OutboundTarget, message: Message): boolean => {
    const row = messageToRow(message)
    return (
      s.outboundInsertWithBody.run(
        target.clientId,
        message.id as string,
        target.qos,
        identifiersOf(target),
        flag(target.retain),
        row.topic,
        row.payload,
        row.qos,
        row.retain,
        row.origin,
        row.expires_at,
        row.properties,
        row.correlation_data,
      ).changes === 1
    )
  }
  return {
    /** Runs inside the batch's transaction, just before its COMMIT. */
    deleteOrphans: (): void => {
      for (const messageId of orphans) s.messageDeleteUnreferenced.run(messageId, messageId)
      orphans.clear()
    },
    /** The batch was rolled back, and the deletes it would have made with it. */
    forgetOrphans: (): void => orphans.clear(),
    /**
     * One client's enqueue that needs nothing dropped (a connected subscriber's, with no bound to check, or one
     * offline client's with room left): one INSERT, atomic on its own, so no savepoint. False, with nothing
     * written, when the message does not fit: `enqueue` then drops or refuses.
     */
    enqueueOne: (target: OutboundTarget, message: Message, limit: number | undefined, byteLimit: number | undefined): boolean => {
      const size = message.payload.length
      if ((limit !== undefined || byteLimit !== undefined) && !fits(lengths.get(target.clientId), size, limit, byteLimit)) return false
      if (insertWithBody(target, message)) lengths.add(target.clientId, 1, size)
      return true
    },
    subscriptionsAdd: db.transaction((clientId: string, subscriptions: Subscription[]) => {
      for (const subscription of subscriptions) {
        s.subscriptionUpsert.run({
          client_id: clientId,
          filter: subscription.filter,
          qos: subscription.qos,
          no_local: flag(subscription.noLocal),
          retain_as_published: flag(subscription.retainAsPublished),
          retain_handling: subscription.retainHandling ?? null,
          subscription_identifier: subscription.subscriptionIdentifier ?? null,
        })
      }
    }),
    subscriptionsRemove: db.transaction((clientId: string, filters: string[]) => {
      for (const filter of filters) s.subscriptionDelete.run(clientId, filter)
    }),
    enqueue: db.transaction(
      (targets: OutboundTarget[], message: Message, limit: number | undefined, dropOldest: boolean, byteLimit: number | undefined): string[] => {
        const messageId = message.id as string
        const size = message.payload.length
        const bounded = limit !== undefined || byteLimit !== undefined
        const lost: string[] = []
        let added = 0
        // One target: its entry carries the body. Several share one body row.
        const shared = targets.length > 1
        if (shared) s.messageInsert.run(messageToRow(message))
        for (const target of targets) {
          const clientId = target.clientId
          if (s.outboundHas.get(clientId, messageId) !== undefined) continue
          if (byteLimit !== undefined && size > byteLimit) {
            lost.push(clientId)
            continue
          }
          if (bounded) {
            const queue = lengths.get(clientId)
            let room = fits(queue, size, limit, byteLimit)
            while (!room) {
              lost.push(clientId)
              const dropped = dropOldest ? s.outboundDropOldestQueued.get(clientId) : undefined
              if (dropped === undefined) break
              left(clientId, dropped)
              room = fits(queue, size, limit, byteLimit)
            }
            if (!room) continue
          }
          if (shared) s.outboundInsert.run(clientId, messageId, target.qos, identifiersOf(target), flag(target.retain))
          else insertWithBody(target, message)
          lengths.add(clientId, 1, size)
          added++
        }
        // Taken by no queue (all full or holding it already): the body inserted above must not stay behind.
        if (shared && added === 0) s.messageDeleteUnreferenced.run(messageId, messageId)
        return lost
      },
    ),
    ack: (clientId: string, packetId: number): void => {
      for (const removed of s.outboundAck.all(clientId, packetId)) left(clientId, removed)
    },
    remove: (clientId: string, messageId: string): void => {
      const removed = s.outboundRemove.get(clientId, messageId)
      if (removed !== undefined) left(clientId, removed)
    },
    sessionDelete: db.transaction((clientId: string) => {
      lengths.forget(clientId)
      s.sessionDelete.run(clientId)
      s.subscriptionsDeleteClient.run(clientId)
      for (const removed of s.outboundDeleteClient.all(clientId)) {
        if (typeof removed === 'string') s.messageDeleteUnreferenced.run(removed, removed)
      }
      s.incomingDeleteClient.run(clientId)
      s.willDelete.run(clientId)
      s.sessionDataDeleteClient.run(clientId)
    }),
  }
}

/**
 * One SQLite file in WAL mode, written through prepared statements. Writes are group-committed (see
 * GroupCommit): each call's statements are atomic, and its promise settles once the transaction holding
 * them has committed.
 */
export class SqlitePersistence implements Persistence {
  /** better-sqlite3 is synchronous: every call takes effect (in the open transaction) before it returns. */
  readonly appliesInCallOrder = true
  private readonly db: Database.Database
  private readonly lengths: QueueLengths
  private readonly group: GroupCommit
  private readonly statements: Statements
  private readonly transactions: ReturnType<typeof prepareTransactions>

  constructor(options: SqlitePersistenceOptions) {
    this.db = new Database(options.path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    this.db.pragma('foreign_keys = ON')
    // Each write runs as a savepoint inside the group commit's transaction, and a savepoint journals the pages it
    // changes to a temporary file by default: with a deep queue and a large batch that file made every write cost
    // about twice as much. In memory it holds at most one batch's changed pages.
    this.db.pragma('temp_store = MEMORY')
    migrate(this.db)
    this.statements = prepareStatements(this.db)
    this.lengths = new QueueLengths((clientId) => this.statements.outboundSize.get(clientId) ?? { entries: 0, bytes: 0 })
    this.transactions = prepareTransactions(this.db, this.statements, this.lengths)
    // A batch was rolled back: the queue lengths may count writes that are gone.
    this.group = new GroupCommit(
      this.db,
      () => {
        this.lengths.clear()
        this.transactions.forgetOrphans()
      },
      this.transactions.deleteOrphans,
    )
  }

  async retainedStore(message: Message): Promise<void> {
    this.group.join()
    if (message.payload.length === 0) this.statements.retainedDelete.run(message.topic)
    else this.statements.retainedUpsert.run(messageToRow(message))
    return this.group.wrote()
  }

  async retainedMatch(filter: string): Promise<Message[]> {
    const s = this.statements
    const wildcard = filter.search(/[+#]/)
    if (wildcard === -1) {
      const row = s.retainedByTopic.get(filter)
      return row ? this.unexpired([row], filter) : []
    }
    // Only topics that start with the literal levels before the first wildcard can match: read that key range.
    const prefix = filter.slice(0, wildcard)
    if (prefix === '') return this.unexpired(s.retainedAll.all(), filter)
    // Every topic in ['a/b/', 'a/b0') starts with 'a/b/' because '0' follows '/' in byte order.
    const rows = s.retainedByRange.all(prefix, `${prefix.slice(0, -1)}0`)
    // 'a/b/#' also matches 'a/b' itself [MQTT-4.7.1-2]
    if (filter.length === wildcard + 1 && filter.endsWith('#')) {
      const parent = s.retainedByTopic.get(prefix.slice(0, -1))
      if (parent) rows.push(parent)
    }
    return this.unexpired(rows, filter)
  }

  private unexpired(rows: MessageRow[], filter: string): Message[] {
    const now = Date.now()
    const found: Message[] = []
    for (const row of rows) {
      if (!topicMatches(filter, row.topic)) continue
      if (row.expires_at !== null && row.expires_at < now) this.statements.retainedDeleteExpired.run(row.topic, now)
      else found.push(rowToMessage(row))
    }
    return found
  }

  async retainedCount(): Promise<number> {
    return this.statements.retainedCount.get() ?? 0
  }

  async retainedBytes(): Promise<number> {
    return this.statements.retainedBytes.get() ?? 0
  }

  async sessionSave(record: SessionRecord): Promise<void> {
    this.group.join()
    this.statements.sessionUpsert.run({
      client_id: record.clientId,
      protocol_version: record.protocolVersion,
      expiry_interval: record.expiryInterval,
      disconnected_at: record.disconnectedAt ?? null,
      broker_id: record.brokerId ?? null,
    })
    return this.group.wrote()
  }

  async sessionGet(clientId: string): Promise<SessionRecord | undefined> {
    const row = this.statements.sessionGet.get(clientId)
    return row && rowToSession(row)
  }

  async sessionDelete(clientId: string): Promise<void> {
    this.group.join()
    this.transactions.sessionDelete(clientId)
    return this.group.wrote()
  }

  async sessionList(): Promise<SessionRecord[]> {
    return this.statements.sessionAll.all().map(rowToSession)
  }

  async sessionDataSet(clientId: string, key: string, value: string): Promise<void> {
    this.group.join()
    this.statements.sessionDataUpsert.run(clientId, key, value)
    return this.group.wrote()
  }

  async sessionDataGet(clientId: string, key: string): Promise<string | undefined> {
    return this.statements.sessionDataGet.get(clientId, key)
  }

  async sessionCount(): Promise<number> {
    return this.statements.sessionCount.get() ?? 0
  }

  async subscriptionsAdd(clientId: string, subscriptions: Subscription[]): Promise<void> {
    this.group.join()
    this.transactions.subscriptionsAdd(clientId, subscriptions)
    return this.group.wrote()
  }

  async subscriptionsRemove(clientId: string, filters: string[]): Promise<void> {
    this.group.join()
    this.transactions.subscriptionsRemove(clientId, filters)
    return this.group.wrote()
  }

  async subscriptionsGet(clientId: string): Promise<Subscription[]> {
    return this.statements.subscriptionsOfClient.all(clientId).map(rowToSubscription)
  }

  async subscriptionsAll(): Promise<ClientSubscriptions[]> {
    const grouped = new Map<string, Subscription[]>()
    for (const row of this.statements.subscriptionsAll.iterate()) {
      let list = grouped.get(row.client_id)
      if (!list) {
        list = []
        grouped.set(row.client_id, list)
      }
      list.push(rowToSubscription(row))
    }
    return Array.from(grouped, ([clientId, subscriptions]) => ({ clientId, subscriptions }))
  }

  // The enqueue, sent and ack of every persisted QoS 1 message: not `async`, so each returns its batch's shared
  // promise instead of a new one resolved with it.
  outboundEnqueue(targets: OutboundTarget[], message: Message, limit?: number, dropOldest = false, byteLimit?: number): Promise<string[]> {
    try {
      if (message.id === undefined) throw new TypeError('outboundEnqueue: message.id is required (the broker assigns it)')
      this.group.join()
      if (targets.length === 1 && this.transactions.enqueueOne(targets[0] as OutboundTarget, message, limit, byteLimit)) {
        return this.group.wroteNothingDropped()
      }
      return this.group.wroteEnqueue(this.transactions.enqueue(targets, message, limit, dropOldest, byteLimit))
    } catch (error) {
      return this.failed(error)
    }
  }

  outboundSent(clientId: string, messageId: string, packetId: number): Promise<void> {
    try {
      this.group.join()
      this.statements.outboundSent.run(packetId, clientId, messageId)
      return this.group.wrote()
    } catch (error) {
      return Promise.reject(error)
    }
  }

  async outboundReleased(clientId: string, packetId: number): Promise<void> {
    this.group.join()
    this.statements.outboundReleased.run(clientId, packetId)
    return this.group.wrote()
  }

  outboundAck(clientId: string, packetId: number): Promise<void> {
    return this.queueWrite(this.transactions.ack, clientId, packetId)
  }

  outboundRemove(clientId: string, messageId: string): Promise<void> {
    return this.queueWrite(this.transactions.remove, clientId, messageId)
  }

  /**
   * One write that keeps queue lengths in step, made in the open batch; its promise is the batch's. The write and
   * its arguments are passed apart so that no closure is made per message.
   */
  private queueWrite<K>(write: (clientId: string, key: K) => void, clientId: string, key: K): Promise<void> {
    try {
      this.group.join()
      write(clientId, key)
      return this.group.wrote()
    } catch (error) {
      return this.failed(error)
    }
  }

  /** A write that keeps queue lengths in step failed: they are counted again when next needed. */
  private failed(error: unknown): Promise<never> {
    this.lengths.clear()
    return Promise.reject(error)
  }

  async outboundList(clientId: string): Promise<OutboundEntry[]> {
    return this.statements.outboundList.all(clientId).map(rowToEntry)
  }

  async outboundCount(clientId: string): Promise<number> {
    return this.statements.outboundCount.get(clientId) ?? 0
  }

  async incomingAdd(clientId: string, packetId: number): Promise<void> {
    this.group.join()
    this.statements.incomingAdd.run(clientId, packetId)
    return this.group.wrote()
  }

  async incomingHas(clientId: string, packetId: number): Promise<boolean> {
    return this.statements.incomingHas.get(clientId, packetId) !== undefined
  }

  async incomingRemove(clientId: string, packetId: number): Promise<void> {
    this.group.join()
    this.statements.incomingRemove.run(clientId, packetId)
    return this.group.wrote()
  }

  async willPut(record: WillRecord): Promise<void> {
    this.group.join()
    this.statements.willUpsert.run({
      ...messageToRow(record.message),
      client_id: record.clientId,
      broker_id: record.brokerId ?? null,
      delay_interval: record.delayInterval,
    })
    return this.group.wrote()
  }

  async willGet(clientId: string): Promise<WillRecord | undefined> {
    const row = this.statements.willGet.get(clientId)
    return row && rowToWill(row)
  }

  async willDelete(clientId: string): Promise<void> {
    this.group.join()
    this.statements.willDelete.run(clientId)
    return this.group.wrote()
  }

  async willList(): Promise<WillRecord[]> {
    return this.statements.willAll.all().map(rowToWill)
  }

  async close(): Promise<void> {
    if (!this.db.open) return
    this.group.commit()
    this.db.close()
  }
}

export function createSqlitePersistence(options: SqlitePersistenceOptions): SqlitePersistence {
  return new SqlitePersistence(options)
}
