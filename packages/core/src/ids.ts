import { randomBytes } from 'node:crypto'

/** A random id with a readable prefix: broker ids, client ids assigned to an empty CONNECT client id. */
export function generateId(prefix: string): string {
  return `${prefix}${randomBytes(8).toString('hex')}`
}

/** Message ids unique across brokers and restarts: broker id, start time, then a counter. */
export function createMessageIds(brokerId: string): () => string {
  let seq = 0
  const prefix = `${brokerId}:${Date.now().toString(36)}:`
  return () => prefix + (++seq).toString(36)
}
