// Known clients reconnecting at once to a broker with a password file: the first wave logs every user in once,
// a few at a time (a fleet coming up), and ends with a clean DISCONNECT of all; the second wave reconnects them
// all at once (the broker or a load balancer came back) and is the figure: time until the last CONNACK, broker
// CPU per connect, and how many logins the broker refused (busy, rate limited, or a socket closed unanswered).
import { benchUser } from '../lib/access.js'
import { connectClient, inBatches } from './client.js'
import { clientsWithinFileLimits } from './connections.js'
import { closeWindow, nowMs, openWindow, withTimeout } from './measure.js'

/** One wave: every client connects, `concurrency` at a time; refusals are counted, not thrown. */
async function wave(job, count, concurrency, what) {
  const window = openWindow(job.brokerPid)
  let lastConnackMs = window.startMs
  let refused = 0
  const clients = await withTimeout(
    inBatches(count, concurrency, async (i) => {
      try {
        const client = await connectClient({ port: job.port, transport: job.transport, clientId: `bench-known-${i}`, keepalive: 0, credentials: benchUser(i) })
        lastConnackMs = nowMs()
        return client
      } catch {
        refused++
        return null
      }
    }),
    job.timeoutMs,
    what,
  )
  const measured = closeWindow(window, lastConnackMs)
  return { clients: clients.filter((client) => client !== null), refused, measured }
}

export async function runReconnectStorm(job) {
  const count = clientsWithinFileLimits(job)
  const first = await wave(job, count, job.firstWaveConcurrency, `logging in ${count} users`)
  await Promise.all(first.clients.map((client) => client.disconnect()))
  const second = await wave(job, count, count, `reconnecting ${count} users at once`)
  for (const client of second.clients) client.close()
  const accepted = second.clients.length
  return {
    ...second.measured,
    requestedClients: job.clients,
    clients: accepted,
    refusedConnects: second.refused,
    allConnackMs: second.measured.durationMs,
    connectsPerSec: accepted / (second.measured.durationMs / 1000),
    brokerCpuUsPerConnect: second.measured.brokerCpuUs / Math.max(1, accepted),
    firstWaveMs: first.measured.durationMs,
    firstWaveCpuUsPerConnect: first.measured.brokerCpuUs / Math.max(1, first.clients.length),
    firstWaveRefused: first.refused,
  }
}
