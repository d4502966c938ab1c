/**
 * Redis stops answering (SIGSTOP) or dies (SIGKILL, then a restart on the same port) while clients publish to
 * a `wren --persistence redis://...` broker. What a user must see: publishers told within a bound (a v5
 * PUBACK/PUBREC with a failure reason code, a v3 connection closed without an ack so the client resends), an
 * error in the broker's log, no crash, and publishing working again once Redis is back, without a restart.
 */
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { startRedisServer, type RedisServer } from '../../persistence-redis/test/redis-server.js'
import { startWren, type WrenProcess } from './helpers/wren-process.js'

/**
 * The adapter's default command timeout (REDIS_CLIENT_DEFAULTS), plus room for a loaded machine: a write made while
 * Redis hangs goes out behind the unanswered batch at most 250 ms later and times out with its own command.
 */
const TOLD_WITHIN_MS = 8_000
const UNSPECIFIED_ERROR = 0x80

interface Outage {
  name: string
  redisOptions: { appendOnly?: boolean }
  start(redis: RedisServer): Promise<void>
  end(redis: RedisServer): Promise<void>
}

const OUTAGES: Outage[] = [
  {
    name: 'stops answering (SIGSTOP, then SIGCONT)',
    redisOptions: {},
    start: async (redis) => redis.pause(),
    end: async (redis) => redis.resume(),
  },
  {
    name: 'dies (SIGKILL, then a restart on the same port, with an fsynced AOF)',
    redisOptions: { appendOnly: true },
    start: (redis) => redis.kill(),
    end: (redis) => redis.restart(),
  },
]

let redis: RedisServer | null = null
let wren: WrenProcess | null = null
const clients: MqttClient[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)))
  await wren?.stop()
  await redis?.stop()
  wren = null
  redis = null
})

async function client(url: string, options: IClientOptions): Promise<MqttClient> {
  const connected = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  clients.push(connected)
  // broker-side closes during the outage are part of the test
  connected.on('error', () => {})
  return connected
}

/** How a publish ended: acknowledged, refused with a reason code, or left unanswered when the connection closed. */
type Outcome = { kind: 'acked' } | { kind: 'refused'; code: number } | { kind: 'closed' }

/** Waits for a publish to be acknowledged, refused with a reason code, or cut off by the connection closing. */
function outcomeOf(publisher: MqttClient, publish: Promise<unknown>): Promise<{ outcome: Outcome; ms: number }> {
  const started = performance.now()
  const took = (outcome: Outcome) => ({ outcome, ms: performance.now() - started })
  return new Promise((resolve) => {
    publisher.once('close', () => resolve(took({ kind: 'closed' })))
    publish.then(
      () => resolve(took({ kind: 'acked' })),
      (error: { code?: number }) => resolve(took({ kind: 'refused', code: error.code ?? -1 })),
    )
  })
}

/** Publishes until one is acknowledged: Redis may need a moment to be reachable again. Bounded in tries. */
async function publishUntilAcked(publisher: MqttClient, topic: string, payload: string): Promise<number> {
  for (let attempt = 1; attempt <= 40; attempt++) {
    try {
      await publisher.publishAsync(topic, payload, { qos: 1 })
      return attempt
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  throw new Error('no publish acknowledged after Redis came back')
}

/** Resolves once `subscriber` has received every payload in `expected`, checked on each message it gets. */
function receivesAll(subscriber: MqttClient, expected: string[], timeoutMs: number): Promise<void> {
  const received: string[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${expected.join(', ')} (got ${JSON.stringify(received)})`)), timeoutMs)
    subscriber.on('message', (_topic, payload) => {
      received.push(payload.toString())
      if (expected.every((one) => received.includes(one))) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

describe.each(OUTAGES)('Redis $name while clients publish', (outage) => {
  it('tells publishers, logs the error, stays up and recovers without a broker restart', async () => {
    redis = await startRedisServer(outage.redisOptions)
    wren = await startWren(['--no-ws', '--sys-interval', '0', '--persistence', redis.url])
    const url = wren.urls.tcp as string

    // An offline persistent session: every QoS 1/2 publish to outage/# must be written to Redis before its ack.
    const away = await client(url, { clientId: 'outage-away', clean: false })
    await away.subscribeAsync('outage/#', { qos: 2 })
    await away.endAsync()
    const v5 = await client(url, { protocolVersion: 5, clientId: 'outage-pub-v5' })
    // MQTT.js keeps an unacknowledged message across its own reconnects and sends it again on each
    const v3 = await client(url, { protocolVersion: 4, clientId: 'outage-pub-v3', reconnectPeriod: 250, reconnectOnConnackError: true })
    await v5.publishAsync('outage/t', 'before', { qos: 1 })

    await outage.start(redis)
    const v3Publish = v3.publishAsync('outage/t', 'v3-qos1-during', { qos: 1 })
    const during = await Promise.all([
      outcomeOf(v5, v5.publishAsync('outage/t', 'v5-qos1-during', { qos: 1 })),
      outcomeOf(v3, v3Publish),
    ])
    const v5Qos2 = await outcomeOf(v5, v5.publishAsync('outage/t', 'v5-qos2-during', { qos: 2 }))

    // v5: a failure reason code, in bounded time
    expect(during[0].outcome).toEqual({ kind: 'refused', code: UNSPECIFIED_ERROR })
    expect(during[0].ms).toBeLessThan(TOLD_WITHIN_MS)
    expect(v5Qos2.outcome).toEqual({ kind: 'refused', code: UNSPECIFIED_ERROR })
    expect(v5Qos2.ms).toBeLessThan(TOLD_WITHIN_MS)
    // v3 has no negative ack: the connection is closed without PUBACK, and the client still owns the message
    expect(during[1].outcome).toEqual({ kind: 'closed' })
    expect(during[1].ms).toBeLessThan(TOLD_WITHIN_MS)

    expect(wren.child.exitCode).toBeNull()
    const storeErrors = wren.logs.filter((line) => line.level >= 50 && line.msg === 'message could not be stored')
    expect(storeErrors.length).toBeGreaterThanOrEqual(3)
    for (const line of storeErrors) {
      expect((line.err as { message: string }).message).toMatch(/Command timed out|max retries per request/)
    }

    await outage.end(redis)
    const attempts = await publishUntilAcked(v5, 'outage/t', 'v5-after')
    // The v3 client's message, sent again after each reconnect, is acknowledged once Redis is back [MQTT-4.4.0-1].
    await v3Publish
    expect(wren.child.exitCode).toBeNull()

    // The persistent session has everything acknowledged, before and after the outage.
    const back = connect(url, { clientId: 'outage-away', clean: false, reconnectPeriod: 0 })
    clients.push(back)
    await receivesAll(back, ['before', 'v5-after', 'v3-qos1-during'], 10_000)
    console.info(`[redis ${outage.name}] publishers told in ${during.map((d) => Math.round(d.ms)).join('/')} ms; first ack after ${attempts} tries`)
  }, 60_000)
})
