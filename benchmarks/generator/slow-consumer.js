// One publisher floods without waiting for acknowledgements; one subscriber reads as fast as it can, another
// subscribes and never reads. What a user sees: how much of the flood the reading subscriber got, how much memory
// the broker took for it, whether the publisher got through at all, and whether the stuck client was cut off.
import net from 'node:net'
import { rssKiB } from '../lib/proc-stats.js'
import { connectClient } from './client.js'
import { closeWindow, nowMs, openWindow, waitUntil } from './measure.js'
import { Credit, publishAsFastAsPossible } from './publisher.js'
import { encodeConnect, encodeSubscribe } from './wire.js'

/** Connects, subscribes and then stops reading: the broker's writes to it pile up until it gives up on it. */
function neverReading(port, clientId, filter, qos) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.once('error', reject)
    socket.once('data', () => {
      socket.pause()
      resolve(socket)
    })
    socket.write(Buffer.concat([encodeConnect(clientId), encodeSubscribe(1, filter, qos)]))
  })
}

/**
 * Leaves the stuck client unread for `idleMs` more, then reads what the broker left buffered for it: true when the
 * broker had closed the connection. Reading any earlier would make it a client that progresses, which the broker
 * rightly keeps; and a paused socket does not see the broker's close until it reads up to it.
 */
function wasCutOff(socket, idleMs, readMs = 10_000) {
  return new Promise((resolve) => {
    let timer = null
    const onClosed = () => {
      clearTimeout(timer)
      resolve(true)
    }
    socket.once('end', onClosed)
    socket.once('close', onClosed)
    socket.on('error', () => {})
    timer = setTimeout(() => {
      timer = setTimeout(() => resolve(false), readMs)
      socket.resume()
    }, idleMs)
  })
}

/**
 * Ordinary traffic before the flood: `count` messages through a subscriber that keeps up, the publisher at most
 * 1,000 ahead. A fresh Node process grows by tens of MiB under its first load of any kind (optimised code, V8's
 * heap sizes, malloc's arenas), once; without this the flood's figure would be mostly that.
 */
async function warmUp(port, topic, qos, payloadSize, count) {
  const reader = await connectClient({ port, clientId: 'bench-warm-reader' })
  await reader.subscribe(topic, qos)
  const publisher = await connectClient({ port, clientId: 'bench-warm-publisher' })
  const credit = new Credit(1_000)
  let received = 0
  const allReceived = new Promise((resolve) => {
    reader.onPublish = () => {
      credit.settle(1)
      if (++received === count) resolve()
    }
  })
  await publishAsFastAsPossible(publisher, { topic, payload: Buffer.alloc(payloadSize, 0x61), qos, count, window: 100, credit })
  await allReceived
  reader.close()
  publisher.close()
}

export async function runSlowConsumer(job) {
  const { port, brokerPid, qos, payloadSize, messages } = job
  const filter = 'bench/slow/#'
  const rssFreshKiB = rssKiB(brokerPid)
  let rssPeakKiB = rssFreshKiB
  const sampler = setInterval(() => {
    rssPeakKiB = Math.max(rssPeakKiB, rssKiB(brokerPid))
  }, 50)
  await warmUp(port, 'bench/warm', qos, payloadSize, job.warmUpMessages)
  const rssBeforeKiB = rssKiB(brokerPid)
  const rssWarmUpPeakKiB = rssPeakKiB
  rssPeakKiB = rssBeforeKiB
  const stuck = await neverReading(port, 'bench-never-reads', filter, qos)
  const reader = await connectClient({ port, clientId: 'bench-reader' })
  await reader.subscribe(filter, qos)
  const publisher = await connectClient({ port, clientId: 'bench-flooder' })
  let delivered = 0
  let lastDeliveryMs = 0
  reader.onPublish = () => {
    delivered++
    lastDeliveryMs = nowMs()
  }
  const window = openWindow(brokerPid)
  let published = false
  // No credit and a window of 10,000 ids: the publisher does not wait for the subscribers at all.
  void publishAsFastAsPossible(publisher, {
    topic: 'bench/slow/t',
    payload: Buffer.alloc(payloadSize, 0x61),
    qos,
    count: messages,
    window: 10_000,
    credit: new Credit(Number.MAX_SAFE_INTEGER),
  }).then(() => (published = true))
  const deadlineMs = window.startMs + job.timeoutMs
  await waitUntil(() => (published && delivered >= messages) || (published && nowMs() - Math.max(lastDeliveryMs, window.startMs) > job.idleMs), deadlineMs)
  const measured = closeWindow(window, lastDeliveryMs || nowMs())
  clearInterval(sampler)
  // The stuck client is cut off `drainTimeout` (10 s by default) after it stopped making progress, which a quiet
  // flood can outlast by only a few seconds: leave it unread that long, not just a moment, before looking.
  const cutOff = await wasCutOff(stuck, 12_000)
  reader.close()
  publisher.close()
  stuck.destroy()
  return {
    ...measured,
    expected: messages,
    delivered,
    deliveredPct: (delivered / messages) * 100,
    rssGrowthMiB: Math.max(0, rssPeakKiB - rssBeforeKiB) / 1024,
    rssGrowthFromFreshMiB: Math.max(0, rssPeakKiB - rssFreshKiB, rssWarmUpPeakKiB - rssFreshKiB) / 1024,
    publisherStalled: published ? 0 : 1,
    stuckDisconnected: cutOff ? 1 : 0,
    msgsPerSec: delivered / (measured.durationMs / 1000),
    brokerCpuUsPerMsg: delivered > 0 ? measured.brokerCpuUs / delivered : Number.NaN,
  }
}
