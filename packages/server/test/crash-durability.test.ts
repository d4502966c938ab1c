/**
 * The broker process is SIGKILLed after publishers got their acks; a new process on the same store must
 * deliver every acknowledged message to the persistent sessions (QoS 2 exactly once, QoS 1 at least once,
 * in order per publisher), and keep retained messages and subscriptions.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { startWren, type WrenProcess } from './helpers/wren-process.js'

const QOS1_MESSAGES = 10_000
const QOS2_MESSAGES = 1_000
/**
 * The broker's default maxQueued, which the `wren` command has no flag or config key for: each persistent
 * session gets a share of the messages that fits, so every acknowledged message is expected back.
 */
const MAX_QUEUED = 1000
const PARTITIONS = Math.ceil((QOS1_MESSAGES + QOS2_MESSAGES) / MAX_QUEUED)
/** Unacknowledged publishes per publisher at once. */
const WINDOW = 200
const RETAINED = 100
const DRAIN_TIMEOUT_MS = 60_000

interface SessionKind {
  name: string
  options: IClientOptions
}

const KINDS: SessionKind[] = [
  { name: 'v311', options: { protocolVersion: 4, clean: false } },
  { name: 'v5', options: { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } } },
]

const qos1Topic = (partition: number): string => `crash/${partition}/q1`
const qos2Topic = (partition: number): string => `crash/${partition}/q2`
/** The QoS 2 stream continues the QoS 1 stream's round-robin, so every partition gets MAX_QUEUED messages. */
const qos1Partition = (seq: number): number => seq % PARTITIONS
const qos2Partition = (seq: number): number => (QOS1_MESSAGES + seq) % PARTITIONS

function expectedSeqs(count: number, partitionOf: (seq: number) => number, partition: number): number[] {
  return Array.from({ length: count }, (_, seq) => seq).filter((seq) => partitionOf(seq) === partition)
}

interface Subscriber {
  clientId: string
  partition: number
  kind: SessionKind
}

const SUBSCRIBERS: Subscriber[] = KINDS.flatMap((kind) =>
  Array.from({ length: PARTITIONS }, (_, partition) => ({ clientId: `crash-${kind.name}-${partition}`, partition, kind })),
)

/** Every payload a returning subscriber receives, by topic, in arrival order. */
class Inbox {
  readonly byTopic = new Map<string, string[]>()
  private waiter: (() => void) | null = null

  constructor(client: MqttClient) {
    client.on('message', (topic, payload) => {
      const list = this.byTopic.get(topic)
      if (list) list.push(payload.toString())
      else this.byTopic.set(topic, [payload.toString()])
      this.waiter?.()
    })
  }

  count(topic: string): number {
    return new Set(this.byTopic.get(topic)).size
  }

  /** Resolves once `ready` holds, checked on every message; rejects with what is missing after the timeout. */
  until(ready: () => boolean, timeoutMs: number, describeMissing: () => string): Promise<void> {
    if (ready()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null
        reject(new Error(`timed out: ${describeMissing()}`))
      }, timeoutMs)
      this.waiter = () => {
        if (!ready()) return
        clearTimeout(timer)
        this.waiter = null
        resolve()
      }
    })
  }
}

/** Connects and resolves with the CONNACK's session present flag; the inbox listens from before CONNACK. */
function reconnect(url: string, subscriber: Subscriber): Promise<{ client: MqttClient; inbox: Inbox; sessionPresent: boolean }> {
  const client = connect(url, { ...subscriber.kind.options, clientId: subscriber.clientId, reconnectPeriod: 0, connectTimeout: 10_000 })
  const inbox = new Inbox(client)
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => resolve({ client, inbox, sessionPresent: connack.sessionPresent }))
    client.once('error', reject)
  })
}

async function publishStream(
  client: MqttClient,
  count: number,
  topicOf: (seq: number) => string,
  qos: 1 | 2,
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const seq = next++
      await client.publishAsync(topicOf(seq), String(seq), { qos })
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, worker))
}

/** The payloads in order of their first arrival: QoS 1 may repeat a message, never reorder first deliveries. */
function firstOccurrences(payloads: string[] | undefined): number[] {
  return [...new Set(payloads)].map(Number)
}

type StoreSpec = () => string

let dir: string
let redis: RedisServer

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wren-crash-'))
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis?.stop()
  await rm(dir, { recursive: true, force: true })
})

const STORES: Array<[string, StoreSpec]> = [
  ['sqlite', () => `sqlite:${join(dir, 'crash.db')}`],
  ['redis', () => redis.url],
]

describe.each(STORES)('a broker killed with SIGKILL, --persistence %s', (name, spec) => {
  it(
    'comes back with every acknowledged message queued, retained messages and subscriptions',
    async () => {
      const wrenArgs = ['--no-ws', '--sys-interval', '0', '--persistence', spec()]
      let broker: WrenProcess | null = await startWren(wrenArgs)
      const clients: MqttClient[] = []
      try {
        const url = broker.urls.tcp as string
        await Promise.all(
          SUBSCRIBERS.map(async (subscriber) => {
            const client = await connectAsync(url, { ...subscriber.kind.options, clientId: subscriber.clientId, reconnectPeriod: 0 })
            await client.subscribeAsync({ [qos1Topic(subscriber.partition)]: { qos: 1 }, [qos2Topic(subscriber.partition)]: { qos: 2 } })
            await client.endAsync()
          }),
        )

        const qos1Publisher = await connectAsync(url, { protocolVersion: 4, clientId: `crash-pub1-${name}`, reconnectPeriod: 0 })
        const qos2Publisher = await connectAsync(url, { protocolVersion: 5, clientId: `crash-pub2-${name}`, reconnectPeriod: 0 })
        for (const publisher of [qos1Publisher, qos2Publisher]) {
          clients.push(publisher)
          // the broker dies under them: the resulting socket errors are expected
          publisher.on('error', () => {})
        }
        for (let n = 0; n < RETAINED; n++) {
          await qos1Publisher.publishAsync(`crash/retained/${n}`, `r${n}`, { qos: 1, retain: true })
        }
        await qos1Publisher.publishAsync('crash/retained/0', '', { qos: 1, retain: true })

        const publishStart = performance.now()
        await Promise.all([
          publishStream(qos1Publisher, QOS1_MESSAGES, (seq) => qos1Topic(qos1Partition(seq)), 1),
          publishStream(qos2Publisher, QOS2_MESSAGES, (seq) => qos2Topic(qos2Partition(seq)), 2),
        ])
        const publishMs = performance.now() - publishStart

        broker.child.kill('SIGKILL')
        expect(await broker.exited).toEqual({ code: null, signal: 'SIGKILL' })
        broker = await startWren(wrenArgs)
        const restartedUrl = broker.urls.tcp as string

        const drainStart = performance.now()
        const returned = await Promise.all(SUBSCRIBERS.map((subscriber) => reconnect(restartedUrl, subscriber)))
        for (const { client } of returned) clients.push(client)
        await Promise.all(
          returned.map(({ inbox }, i) => {
            const { partition } = SUBSCRIBERS[i] as Subscriber
            const want1 = expectedSeqs(QOS1_MESSAGES, qos1Partition, partition).length
            const want2 = expectedSeqs(QOS2_MESSAGES, qos2Partition, partition).length
            return inbox.until(
              () => inbox.count(qos1Topic(partition)) >= want1 && inbox.count(qos2Topic(partition)) >= want2,
              DRAIN_TIMEOUT_MS,
              () =>
                `${SUBSCRIBERS[i]?.clientId} has ${inbox.count(qos1Topic(partition))}/${want1} QoS 1 and ` +
                `${inbox.count(qos2Topic(partition))}/${want2} QoS 2 messages`,
            )
          }),
        )
        const drainMs = performance.now() - drainStart

        returned.forEach(({ inbox, sessionPresent }, i) => {
          const { partition, clientId } = SUBSCRIBERS[i] as Subscriber
          expect(sessionPresent, clientId).toBe(true)
          const qos1 = inbox.byTopic.get(qos1Topic(partition))
          const qos2 = inbox.byTopic.get(qos2Topic(partition))
          expect(firstOccurrences(qos1), `${clientId} QoS 1`).toEqual(expectedSeqs(QOS1_MESSAGES, qos1Partition, partition))
          // exactly once: no repeats at all
          expect(qos2?.map(Number), `${clientId} QoS 2`).toEqual(expectedSeqs(QOS2_MESSAGES, qos2Partition, partition))
        })

        // Subscriptions came back with the sessions: a new message reaches every subscriber without a SUBSCRIBE.
        const live = await connectAsync(restartedUrl, { clientId: `crash-live-${name}`, reconnectPeriod: 0 })
        clients.push(live)
        for (let partition = 0; partition < PARTITIONS; partition++) {
          await live.publishAsync(qos1Topic(partition), 'after-restart', { qos: 1 })
        }
        await Promise.all(
          returned.map(({ inbox }, i) => {
            const topic = qos1Topic((SUBSCRIBERS[i] as Subscriber).partition)
            return inbox.until(
              () => inbox.byTopic.get(topic)?.includes('after-restart') === true,
              10_000,
              () => `${SUBSCRIBERS[i]?.clientId} did not get the message published after the restart`,
            )
          }),
        )

        const retainedClient = connect(restartedUrl, { clientId: `crash-retained-${name}`, reconnectPeriod: 0 })
        clients.push(retainedClient)
        const retainedInbox = new Inbox(retainedClient)
        await retainedClient.subscribeAsync('crash/retained/#', { qos: 1 })
        await retainedInbox.until(
          () => retainedInbox.byTopic.size >= RETAINED - 1,
          10_000,
          () => `${retainedInbox.byTopic.size}/${RETAINED - 1} retained messages`,
        )
        expect([...retainedInbox.byTopic.keys()].sort()).toEqual(
          Array.from({ length: RETAINED - 1 }, (_, n) => `crash/retained/${n + 1}`).sort(),
        )
        expect([...retainedInbox.byTopic.values()].every((payloads) => payloads.length === 1)).toBe(true)

        console.info(
          `[crash ${name}] published ${QOS1_MESSAGES} QoS 1 + ${QOS2_MESSAGES} QoS 2 in ${Math.round(publishMs)} ms; ` +
            `${SUBSCRIBERS.length} sessions drained ${2 * (QOS1_MESSAGES + QOS2_MESSAGES)} messages in ${Math.round(drainMs)} ms after the restart`,
        )
      } finally {
        await Promise.all(clients.map((client) => client.endAsync(true)))
        await broker?.stop()
      }
    },
    180_000,
  )
})
