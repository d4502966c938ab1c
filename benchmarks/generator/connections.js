// Many idle clients: how fast a broker accepts connections and what each one costs it in memory (connections:
// 100 connecting at a time), or how long it takes until every one of them has its CONNACK when all connect at
// once (connect-storm: the listen backlog and the accept path under a burst; the handshakes the kernel dropped
// for a full backlog are counted, since each waits a retransmission timeout of a second or more). The RSS
// growth is measured after the last CONNACK and a short settle, so it counts what the broker keeps per
// client, not the transient garbage of the handshakes.
import { connectClient, inBatches } from './client.js'
import { closeWindow, nowMs, openWindow, withTimeout } from './measure.js'
import { listenOverflows, openFileLimit, rssKiB } from '../lib/proc-stats.js'

// Sockets each process keeps for itself (stdio, IPC, the listener, libuv) besides the clients' ones.
const SPARE_FILES = 100

/** `job.clients`, or fewer when this process or the broker may not open that many sockets. */
export function clientsWithinFileLimits(job) {
  const fileLimit = Math.min(openFileLimit(), openFileLimit(job.brokerPid))
  return Math.max(1, Math.min(job.clients, fileLimit - SPARE_FILES))
}

export async function runConnections(job) {
  const { port, brokerPid } = job
  const clientCount = clientsWithinFileLimits(job)
  const rssBeforeKiB = rssKiB(brokerPid)
  const overflowsBefore = listenOverflows()
  const window = openWindow(brokerPid)
  const clients = []
  let lastConnackMs = window.startMs
  try {
    await withTimeout(
      inBatches(clientCount, job.concurrency, async (i) => {
        clients.push(await connectClient({ port, transport: job.transport, clientId: `bench-idle-${i}`, keepalive: 0 }))
        lastConnackMs = nowMs()
      }),
      job.timeoutMs,
      `connecting ${clientCount} clients`,
    )
    const measured = closeWindow(window, lastConnackMs)
    const overflows = listenOverflows() - overflowsBefore
    await new Promise((resolve) => setTimeout(resolve, job.settleMs))
    const rssAfterKiB = rssKiB(brokerPid)
    return {
      ...measured,
      requestedClients: job.clients,
      clients: clientCount,
      allConnackMs: measured.durationMs,
      connectsPerSec: clientCount / (measured.durationMs / 1000),
      brokerCpuUsPerConnect: measured.brokerCpuUs / clientCount,
      rssPerConnectionKiB: (rssAfterKiB - rssBeforeKiB) / clientCount,
      listenOverflows: overflows,
    }
  } finally {
    for (const client of clients) client.close()
  }
}
