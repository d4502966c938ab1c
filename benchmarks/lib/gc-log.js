// Preloaded into a Node process (`node --import <this file>`) by benchmarks/latency-trace.js: records every
// garbage collection's start (Unix ms, the clock both processes share) and duration, and writes them as JSON to
// the file WREN_GC_LOG names when the process exits. A PerformanceObserver costs nothing between collections.
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

const file = process.env.WREN_GC_LOG
if (file) {
  const recording = recordCollections()
  process.on('exit', () => writeFileSync(file, JSON.stringify(recording.events())))
}
