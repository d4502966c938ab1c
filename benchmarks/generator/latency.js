// One publisher and one subscriber, QoS 1, at a fixed rate well below saturation: each payload carries the
// send time, so the subscriber's receive time minus it is the broker's added delay (both ends share this
// process's clock). Messages are sent when due, so a stall in the broker shows as a late delivery, not as a
// slower send rate.
import { connectClient } from './client.js'
import { closeWindow, nowMs, openWindow, waitUntil } from './measure.js'
import { encodePublish } from './wire.js'
import { percentileOfSorted } from '../lib/stats.js'

const TICK_MS = 1

export async function runLatency(job) {
  const { port, brokerPid, qos, ratePerSec, durationMs } = job
  const total = Math.round((ratePerSec * durationMs) / 1000)
  const subscriber = await connectClient({ port, clientId: 'bench-latency-sub' })
  const publisher = await connectClient({ port, clientId: 'bench-latency-pub' })
  try {
    await subscriber.subscribe('bench/latency', qos)
    const template = encodePublish({ topic: 'bench/latency', payload: Buffer.alloc(job.payloadSize, 0x61), qos })
    const latenciesUs = new Float64Array(total)
    let received = 0
    subscriber.onPublish = (buffer, start) => {
      if (received < total) latenciesUs[received++] = (nowMs() - buffer.readDoubleBE(start)) * 1000
    }
    let acked = 0
    publisher.onPuback = () => acked++

    const window = openWindow(brokerPid)
    let sent = 0
    await new Promise((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((nowMs() - window.startMs) * ratePerSec) / 1000) + 1)
        publisher.socket.cork()
        while (sent < due) {
          const packet = Buffer.from(template.bytes)
          if (qos > 0) packet.writeUInt16BE((sent % 65535) + 1, template.messageIdOffset)
          packet.writeDoubleBE(nowMs(), template.payloadOffset)
          publisher.socket.write(packet)
          sent++
        }
        publisher.socket.uncork()
        if (sent < total) setTimeout(tick, TICK_MS)
        else resolve()
      }
      tick()
    })
    const outcome = await waitUntil(() => received >= total, nowMs() + job.drainMs)
    const measured = closeWindow(window)
    const sorted = Array.from(latenciesUs.subarray(0, received)).sort((a, b) => a - b)
    return {
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
    subscriber.close()
    publisher.close()
  }
}
