// One publisher and one subscriber, QoS 1, at a fixed rate well below saturation: each payload carries the
// send time, so the subscriber's receive time minus it is the broker's added delay (both ends share this
// process's clock). Messages are sent when due, so a stall in the broker shows as a late delivery, not as a
// slower send rate.
import { connectClient } from './client.js'
import { closeWindow, nowMs, openWindow, waitUntil } from './measure.js'
import { encodePublish } from './wire.js'
import { percentileOfSorted } from '../lib/stats.js'
import { recordCollections } from '../lib/gc-log.js'

const TICK_MS = 1

/**
 * Sends `count` messages at `ratePerSec` from now, each stamped with its send time as it is written; packet ids
 * continue from `firstSent`. Resolves once the last is written.
 */
function sendAtRate({ publisher, template, qos, ratePerSec, count, firstSent, tickAtMs }) {
  const startMs = nowMs()
  let sent = 0
  return new Promise((resolve) => {
    const tick = () => {
      tickAtMs?.push(nowMs())
      const due = Math.min(count, Math.floor(((nowMs() - startMs) * ratePerSec) / 1000) + 1)
      publisher.socket.cork()
      while (sent < due) {
        const packet = Buffer.from(template.bytes)
        if (qos > 0) packet.writeUInt16BE(((firstSent + sent) % 65535) + 1, template.messageIdOffset)
        packet.writeDoubleBE(nowMs(), template.payloadOffset)
        publisher.socket.write(packet)
        sent++
      }
      publisher.socket.uncork()
      if (sent < count) setTimeout(tick, TICK_MS)
      else resolve()
    }
    tick()
  })
}

export async function runLatency(job) {
  const { port, brokerPid, qos, ratePerSec, durationMs, warmUpMs = 0 } = job
  const total = Math.round((ratePerSec * durationMs) / 1000)
  const warmUp = Math.round((ratePerSec * warmUpMs) / 1000)
  // With `externalSubscriber` another process (benchmarks/latency-trace.js's mosquitto_sub) receives and times
  // the deliveries: this one only publishes, and counts the broker's PUBACKs instead.
  const subscriber = job.externalSubscriber ? null : await connectClient({ port, clientId: 'bench-latency-sub' })
  const publisher = await connectClient({ port, clientId: 'bench-latency-pub' })
  try {
    await subscriber?.subscribe('bench/latency', qos)
    const template = encodePublish({ topic: 'bench/latency', payload: Buffer.alloc(job.payloadSize, 0x61), qos })
    const latenciesUs = new Float64Array(total)
    // With `trace` (benchmarks/latency-trace.js): each delivery's send time, and this process's collections
    // and send ticks, to line the slowest deliveries up against the generator's own pauses.
    const sentAtMs = job.trace ? new Float64Array(total) : null
    const tickAtMs = job.trace ? [] : null
    const collections = job.trace ? recordCollections() : null
    // The warm-up's deliveries come first (one publisher, one subscriber: in order) and are not counted: the
    // first few thousand messages run both processes' code before V8 has compiled it, a start-up cost that
    // would otherwise be the whole of p99.9 (its 25 slowest messages are the first 25 sent).
    let received = -warmUp
    if (subscriber) {
      subscriber.onPublish = (buffer, start) => {
        if (received < 0) {
          received++
          return
        }
        if (received >= total) return
        const sentMs = buffer.readDoubleBE(start)
        if (sentAtMs) sentAtMs[received] = sentMs
        latenciesUs[received++] = (nowMs() - sentMs) * 1000
      }
    } else {
      publisher.onPuback = () => received++
    }

    const sending = { publisher, template, qos, ratePerSec }
    if (warmUp > 0) {
      await sendAtRate({ ...sending, count: warmUp, firstSent: 0 })
      await waitUntil(() => received >= 0, nowMs() + job.drainMs, 1)
    }
    const window = openWindow(brokerPid)
    await sendAtRate({ ...sending, count: total, firstSent: warmUp, tickAtMs })
    const outcome = await waitUntil(() => received >= total, nowMs() + job.drainMs)
    const measured = closeWindow(window)
    const sorted = Array.from(latenciesUs.subarray(0, received)).sort((a, b) => a - b)
    collections?.stop()
    return {
      ...(job.trace ? { trace: traceOf(sentAtMs, latenciesUs, received, tickAtMs, collections.events()) } : {}),
      ...measured,
      timedOut: outcome === 'timeout',
      expected: total,
      delivered: received,
      lossPct: ((total - received) / total) * 100,
      msgsPerSec: received / (measured.durationMs / 1000),
      brokerCpuUsPerMsg: received > 0 ? measured.brokerCpuUs / received : Number.NaN,
      p50Us: percentileOfSorted(sorted, 50),
      p99Us: percentileOfSorted(sorted, 99),
      p999Us: percentileOfSorted(sorted, 99.9),
      maxUs: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
    }
  } finally {
    subscriber?.close()
    publisher.close()
  }
}

/** The trace on the Unix clock (ms) the broker's own collection log uses: `nowMs` is a monotonic clock. */
function traceOf(sentAtMs, latenciesUs, received, tickAtMs, collections) {
  const toUnixMs = performance.timeOrigin + performance.now() - nowMs()
  return {
    toUnixMs,
    sentMs: Array.from(sentAtMs.subarray(0, received), (ms) => ms + toUnixMs),
    latencyUs: Array.from(latenciesUs.subarray(0, received)),
    tickMs: tickAtMs.map((ms) => ms + toUnixMs),
    collections,
  }
}
