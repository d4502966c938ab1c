// Throughput scenarios (fan-in, fan-out, many-to-many, payload sweep) share one shape: some clients publish
// to a topic, some subscribe to a filter, and every published message is expected `deliveriesPerMessage`
// times. Throughput is deliveries divided by the time from the first publish to the last delivery.
import { connectClient, inBatches } from './client.js'
import { closeWindow, nowMs, openWindow, waitUntil } from './measure.js'
import { Credit, publishAsFastAsPossible } from './publisher.js'

export async function runFlow(job) {
  const { port, brokerPid, servicePid, qos, payloadSize, messagesPerPublisher, deliveriesPerMessage } = job
  const clients = await inBatches(job.clients.length, 50, (i) =>
    connectClient({ port, clientId: `${job.clientPrefix ?? 'bench'}-${i}`, protocolVersion: job.protocolVersion }),
  )
  try {
    await Promise.all(
      job.clients.map((spec, i) => (spec.subscribe ? clients[i].subscribe(spec.subscribe, qos) : undefined)),
    )
    // A cluster node learns of another node's subscriptions a moment after their SUBACK, not before it.
    if (job.settleMs > 0) await new Promise((resolve) => setTimeout(resolve, job.settleMs))
    const publishers = job.clients.flatMap((spec, i) => (spec.publish ? [[clients[i], spec.publish]] : []))
    const expected = publishers.length * messagesPerPublisher * deliveriesPerMessage
    const credit = new Credit(job.aheadPerPublisher * publishers.length)
    const share = 1 / deliveriesPerMessage
    let delivered = 0
    let lastDeliveryMs = 0
    for (const client of clients) {
      client.onPublish = () => {
        delivered++
        lastDeliveryMs = nowMs()
        credit.settle(share)
      }
    }

    const payload = Buffer.alloc(payloadSize, 0x61)
    const window = openWindow(brokerPid, servicePid)
    const deadlineMs = window.startMs + job.timeoutMs
    for (const [client, topic] of publishers) {
      void publishAsFastAsPossible(client, { topic, payload, qos, count: messagesPerPublisher, window: job.window, credit })
    }
    // Lost messages never return their credit, so a lossy broker stalls the senders: silence ends the run.
    const outcome = await waitUntil(
      () => delivered >= expected || nowMs() - Math.max(lastDeliveryMs, window.startMs) > job.idleMs,
      deadlineMs,
    )
    const measured = closeWindow(window, lastDeliveryMs || nowMs())
    return {
      ...measured,
      timedOut: outcome === 'timeout',
      expected,
      delivered,
      lossPct: ((expected - delivered) / expected) * 100,
      msgsPerSec: delivered / (measured.durationMs / 1000),
      mibPerSec: (delivered * payloadSize) / (1024 * 1024) / (measured.durationMs / 1000),
      brokerCpuUsPerMsg: delivered > 0 ? measured.brokerCpuUs / delivered : Number.NaN,
      serviceCpuUsPerMsg: delivered > 0 && measured.serviceCpuUs !== undefined ? measured.serviceCpuUs / delivered : Number.NaN,
    }
  } finally {
    for (const client of clients) client.close()
  }
}
