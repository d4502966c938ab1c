// Retained messages at scale: store `count` retained topics (QoS 1, so each is acknowledged as stored), then
// one client subscribes to `#` and the clock runs from its SUBSCRIBE to the last retained message received.
import { connectClient } from './client.js'
import { closeWindow, nowMs, openWindow, waitUntil, withTimeout } from './measure.js'
import { publishEncodedQos1 } from './publisher.js'
import { encodePublish, encodeSubscribe } from './wire.js'

export async function runRetained(job) {
  const { port, brokerPid, qos, count } = job
  const payload = Buffer.alloc(job.payloadSize, 0x61)
  const packets = Array.from(
    { length: count },
    (_, i) =>
      encodePublish({
        topic: `bench/retained/${Math.floor(i / 1000)}/${i % 1000}`,
        payload,
        qos: 1,
        retain: true,
        messageId: (i % 65535) + 1,
      }).bytes,
  )
  const publisher = await connectClient({ port, clientId: 'bench-retained-pub' })
  let subscriber
  try {
    const storeStartMs = nowMs()
    await withTimeout(publishEncodedQos1(publisher, packets, job.window), job.timeoutMs, `storing ${count} retained messages`)
    const storeMs = nowMs() - storeStartMs

    subscriber = await connectClient({ port, clientId: 'bench-retained-sub' })
    let received = 0
    let lastMs = 0
    subscriber.onPublish = () => {
      received++
      lastMs = nowMs()
    }
    const window = openWindow(brokerPid)
    subscriber.socket.write(encodeSubscribe(1, '#', qos))
    // A broker that drops part of the retained set goes silent: that ends the run, with the rest counted lost.
    const outcome = await waitUntil(
      () => received >= count || nowMs() - Math.max(lastMs, window.startMs) > job.idleMs,
      window.startMs + job.timeoutMs,
    )
    const measured = closeWindow(window, lastMs || nowMs())
    return {
      ...measured,
      timedOut: outcome === 'timeout',
      expected: count,
      delivered: received,
      lossPct: ((count - received) / count) * 100,
      receiveAllMs: measured.durationMs,
      msgsPerSec: received / (measured.durationMs / 1000),
      storePerSec: count / (storeMs / 1000),
      brokerCpuUsPerMsg: received > 0 ? measured.brokerCpuUs / received : Number.NaN,
    }
  } finally {
    publisher.close()
    subscriber?.close()
  }
}
