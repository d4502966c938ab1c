import { performance } from 'node:perf_hooks'
import type { Persistence } from '@wren/core'

/** Upper bounds (seconds) of the latency buckets: 50 µs to 2.5 s, a store on the same host to a struggling remote one. */
export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/** Per-bucket (not cumulative) counts of one operation; the last slot counts what exceeded every bound. */
export interface OperationTiming {
  readonly counts: Float64Array
  sum: number
  count: number
}

const kTimings = Symbol.for('wren.persistenceTimings')

type TimedPersistence = Persistence & { [kTimings]: Map<string, OperationTiming> }

function record(timing: OperationTiming, started: number): void {
  const seconds = (performance.now() - started) / 1000
  let bucket = 0
  while (bucket < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[bucket] as number)) bucket++
  timing.counts[bucket] = (timing.counts[bucket] as number) + 1
  timing.sum += seconds
  timing.count++
}

/**
 * Wraps a persistence adapter so that each operation's latency is counted in fixed buckets (plain numbers,
 * read by the metrics at scrape time). Pass the result to `createBroker({ persistence })`. It costs one
 * `finally` per store operation, which is why it is opt-in.
 */
export function timePersistence<P extends Persistence>(adapter: P): P {
  const timings = new Map<string, OperationTiming>()
  const wrapped = new Map<PropertyKey, unknown>()
  return new Proxy(adapter, {
    get(target, property, receiver) {
      if (property === kTimings) return timings
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== 'function' || typeof property !== 'string') return value
      const cached = wrapped.get(property)
      if (cached) return cached
      const timing: OperationTiming = { counts: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 }
      timings.set(property, timing)
      const method = value as (...args: unknown[]) => unknown
      const timed = function (...args: unknown[]): unknown {
        const started = performance.now()
        const result = method.apply(target, args)
        if (result instanceof Promise) return result.finally(() => record(timing, started))
        record(timing, started)
        return result
      }
      wrapped.set(property, timed)
      return timed
    },
  }) as P
}

/** The latency counts of a persistence adapter wrapped by `timePersistence`, by operation; undefined otherwise. */
export function persistenceTimings(persistence: Persistence): ReadonlyMap<string, OperationTiming> | undefined {
  return (persistence as Partial<TimedPersistence>)[kTimings]
}
