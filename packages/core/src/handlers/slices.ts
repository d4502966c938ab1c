import { ProtocolViolation } from '../errors.js'

/**
 * A SUBSCRIBE or UNSUBSCRIBE with thousands of filters is handled in slices of at most this many milliseconds:
 * between them other clients' packets and timers get their turn, so one packet cannot hold the event loop for its
 * whole length. Slices are timed rather than counted because a filter's cost varies (hooks, a cold JIT, a loaded CPU).
 */
const SLICE_MS = 2
/** Steps (filters read, granted, removed or answered with retained messages) between two looks at the clock, which costs more than a step. */
const STEPS_PER_LOOK = 8

/** The slices of one packet's work: `due` says when the current one is used up, `next` waits for the next turn. */
export class Slices {
  private started = performance.now()
  private steps = 0

  get due(): boolean {
    return ++this.steps % STEPS_PER_LOOK === 0 && performance.now() - this.started > SLICE_MS
  }

  async next(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    this.started = performance.now()
  }
}

/** Filters decoded and checked one at a time from the packet's bytes: null after the last one. */
export interface FilterSource<T> {
  next(): T | ProtocolViolation | null
}

/** Reads every filter of a packet into `into`, in slices; a violation refuses the whole packet. */
export async function readFilters<T>(source: FilterSource<T>, into: T[], slices: Slices): Promise<ProtocolViolation | undefined> {
  for (;;) {
    if (slices.due) await slices.next()
    const next = source.next()
    if (next === null) return undefined
    if (next instanceof ProtocolViolation) return next
    into.push(next)
  }
}
