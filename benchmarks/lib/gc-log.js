// Preloaded into a Node process (`node --import <this file>`) by benchmarks/latency-trace.js: records every
// garbage collection's start (Unix ms, the clock both processes share) and duration, and every stall of the
// event loop (a 1 ms timer that fired more than 3 ms after the one before: the process was busy or not
// scheduled), and writes them as JSON to the file WREN_GC_LOG names when the process exits. The observer costs
// nothing between collections; the timer costs a callback per millisecond, in the traced broker only.
import { writeFileSync } from 'node:fs'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { constants } from 'node:perf_hooks'

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
}

/** Starts recording collections; `events()` returns them as { startMs (Unix), durationMs, kind }. */
export function recordCollections() {
  const events = []
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      events.push({ startMs: performance.timeOrigin + entry.startTime, durationMs: entry.duration, kind: KINDS[entry.detail?.kind] ?? 'other' })
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  return { events: () => events, stop: () => observer.disconnect() }
}

const TICK_MS = 1
const STALL_MS = 3

/** Starts recording event-loop stalls; `stalls()` returns them as { startMs (Unix), durationMs, kind }. */
export function recordStalls() {
  const stalls = []
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    if (now - last > STALL_MS) stalls.push({ startMs: performance.timeOrigin + last, durationMs: now - last, kind: 'stall' })
    last = now
  }, TICK_MS)
  timer.unref()
  return { stalls: () => stalls, stop: () => clearInterval(timer) }
}

const file = process.env.WREN_GC_LOG
if (file) {
  const collections = recordCollections()
  const stalls = recordStalls()
  // What to add to a monotonic time (ms; a CPU profile's clock) to get Unix ms.
  const monotonicToUnixMs = performance.timeOrigin + performance.now() - Number(process.hrtime.bigint()) / 1e6
  process.on('exit', () => writeFileSync(file, JSON.stringify({ collections: collections.events(), stalls: stalls.stalls(), monotonicToUnixMs })))
}
