// Scenario 7, persistent QoS 1: publishers at QoS 1 feed one wildcard subscriber whose session is persistent
// (clean session 0), so every delivery goes through the broker's persistence: queued, sent, acknowledged.
// Two phases on one broker:
//   live:    the subscriber stays connected; throughput is deliveries from the first publish to the last one.
//   backlog: the subscriber disconnects, the publishers store a backlog (every PUBACK means the broker took
//            the message into the offline session), then the subscriber reconnects and the backlog drains;
//            the drain rate runs from its CONNECT to the last queued message received.
import { connectClient, inBatches } from './client.js'
import { closeWindow, nowMs, openWindow, waitUntil, withTimeout } from './measure.js'
import { Credit, publishAsFastAsPossible } from './publisher.js'

const QOS = 1

/** The store's own CPU (redis-server) per message, when the broker has one: NaN otherwise. */
const perMessage = (serviceCpuUs, messages) => (serviceCpuUs !== undefined && messages > 0 ? serviceCpuUs / messages : Number.NaN)

export async function runPersistent(job) {
  const { port, brokerPid, servicePid, publishers: publisherCount, payloadSize } = job
  const prefix = job.clientPrefix ?? 'bench'
  const subscriberId = `${prefix}-sub`
  const payload = Buffer.alloc(payloadSize, 0x61)
  const publishers = await withTimeout(
    inBatches(publisherCount, 50, (i) => connectClient({ port, clientId: `${prefix}-pub-${i}` })),
    job.phaseTimeoutMs,
    `connecting ${publisherCount} publishers`,
  )
  let subscriber
  try {
    subscriber = await connectClient({ port, clientId: subscriberId, clean: false })
    await subscriber.subscribe(job.filter, QOS)

    // Live phase: the same credit bound as the throughput scenarios, so it measures delivery, not buffering.
    const liveExpected = publisherCount * job.messagesPerPublisher
    const credit = new Credit(job.aheadPerPublisher * publisherCount)
    let delivered = 0
    let lastDeliveryMs = 0
    subscriber.onPublish = () => {
      delivered++
      lastDeliveryMs = nowMs()
      credit.settle(1)
    }
    const live = openWindow(brokerPid, servicePid)
    const livePublishes = publishers.map((client, i) =>
      publishAsFastAsPossible(client, {
        topic: `${job.topicPrefix}${i}`,
        payload,
        qos: QOS,
        count: job.messagesPerPublisher,
        window: job.window,
        credit,
      }),
    )
    const liveOutcome = await waitUntil(
      () => delivered >= liveExpected || nowMs() - Math.max(lastDeliveryMs, live.startMs) > job.idleMs,
      live.startMs + job.phaseTimeoutMs,
    )
    const liveMeasured = closeWindow(live, lastDeliveryMs || nowMs())
    const liveDelivered = delivered
    // The last PUBACKs must be in before the backlog's senders take over the publishers' packet ids.
    await withTimeout(Promise.all(livePublishes), job.phaseTimeoutMs, 'the live phase\'s last PUBACKs')

    // Backlog phase: nothing receives, so only the sender window bounds the publishers.
    await withTimeout(subscriber.disconnect(), job.phaseTimeoutMs, 'disconnecting the persistent subscriber')
    const backlogExpected = publisherCount * job.backlogPerPublisher
    const store = openWindow(brokerPid, servicePid)
    const unbounded = new Credit(Number.POSITIVE_INFINITY)
    await withTimeout(
      Promise.all(
        publishers.map((client, i) =>
          publishAsFastAsPossible(client, {
            topic: `${job.topicPrefix}${i}`,
            payload,
            qos: QOS,
            count: job.backlogPerPublisher,
            window: job.window,
            credit: unbounded,
          }),
        ),
      ),
      job.phaseTimeoutMs,
      `storing a backlog of ${backlogExpected} messages`,
    )
    const storeMeasured = closeWindow(store)

    let drained = 0
    let lastDrainMs = 0
    const onPublish = () => {
      drained++
      lastDrainMs = nowMs()
    }
    const drain = openWindow(brokerPid, servicePid)
    subscriber = await withTimeout(
      connectClient({ port, clientId: subscriberId, clean: false, onPublish }),
      job.phaseTimeoutMs,
      'reconnecting the persistent subscriber',
    )
    if (!subscriber.sessionPresent) throw new Error('the broker did not keep the persistent session')
    const drainOutcome = await waitUntil(
      () => drained >= backlogExpected || nowMs() - Math.max(lastDrainMs, drain.startMs) > job.idleMs,
      drain.startMs + job.phaseTimeoutMs,
    )
    const drainMeasured = closeWindow(drain, lastDrainMs || nowMs())
    const drainSeconds = drainMeasured.durationMs / 1000

    return {
      ...liveMeasured,
      timedOut: liveOutcome === 'timeout' || drainOutcome === 'timeout',
      expected: liveExpected,
      delivered: liveDelivered,
      lossPct: ((liveExpected - liveDelivered) / liveExpected) * 100,
      msgsPerSec: liveDelivered / (liveMeasured.durationMs / 1000),
      brokerCpuUsPerMsg: liveDelivered > 0 ? liveMeasured.brokerCpuUs / liveDelivered : Number.NaN,
      serviceCpuUsPerMsg: perMessage(liveMeasured.serviceCpuUs, liveDelivered),
      backlogExpected,
      backlogStorePerSec: backlogExpected / (storeMeasured.durationMs / 1000),
      backlogStoreCpuUsPerMsg: storeMeasured.brokerCpuUs / backlogExpected,
      backlogStoreServiceCpuUsPerMsg: perMessage(storeMeasured.serviceCpuUs, backlogExpected),
      backlogDrained: drained,
      backlogLossPct: (Math.max(0, backlogExpected - drained) / backlogExpected) * 100,
      backlogDrainPerSec: drained / drainSeconds,
      backlogDrainCpuUsPerMsg: drained > 0 ? drainMeasured.brokerCpuUs / drained : Number.NaN,
      backlogDrainServiceCpuUsPerMsg: perMessage(drainMeasured.serviceCpuUs, drained),
    }
  } finally {
    subscriber?.close()
    for (const client of publishers) client.close()
  }
}
