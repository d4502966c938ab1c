import type { Subscription } from '@wren/core'

/** What the broadcast channel (and its replay stream) carries. `n` is always the node the event is about. */
export type ClusterEvent =
  | { t: 'sub'; n: string; c: string; s: Subscription }
  | { t: 'unsub'; n: string; c: string; f: string }
  /** `c` is now connected to node `n`. */
  | { t: 'own'; n: string; c: string }
  /** `c` left node `n`, which still owned it. */
  | { t: 'left'; n: string; c: string }
  /** Node `n` started. */
  | { t: 'join'; n: string }
  /** Node `n` is gone (declared dead or left): it owns nothing any more. */
  | { t: 'down'; n: string }

export function encodeEvent(event: ClusterEvent): string {
  return JSON.stringify(event)
}

/** Splits a published `<stream id> <json>` into its id and event. */
export function parsePublished(text: string): { id: string; event: ClusterEvent } {
  const space = text.indexOf(' ')
  return { id: text.slice(0, space), event: JSON.parse(text.slice(space + 1)) as ClusterEvent }
}

export function parseEvent(json: string): ClusterEvent {
  return JSON.parse(json) as ClusterEvent
}

/** Orders Redis stream ids (`<ms>-<seq>`); '0-0' sorts before every real id. */
export function compareStreamIds(a: string, b: string): number {
  const dashA = a.indexOf('-')
  const dashB = b.indexOf('-')
  const ms = Number(a.slice(0, dashA)) - Number(b.slice(0, dashB))
  return ms !== 0 ? ms : Number(a.slice(dashA + 1)) - Number(b.slice(dashB + 1))
}
