import type { IPublishPacket } from 'mqtt-packet'
import { messageProperties } from '@wren/core'

type PublishProperties = NonNullable<IPublishPacket['properties']>

/** The user property that counts the bridges a message crossed, for `hopLimit`. */
export const HOPS_PROPERTY = 'wren-hops'

function hopsOf(properties: PublishProperties | undefined): number {
  const value = properties?.userProperties?.[HOPS_PROPERTY]
  const last = Array.isArray(value) ? value[value.length - 1] : value
  const hops = Number(last ?? 0)
  return Number.isInteger(hops) && hops >= 0 ? hops : 0
}

/** With a hop limit set, a message that already crossed that many bridges goes no further. */
export function hopsExceeded(properties: PublishProperties | undefined, hopLimit: number): boolean {
  return hopLimit > 0 && hopsOf(properties) >= hopLimit
}

/**
 * The MQTT 5 properties that travel with a message to the other side: those of the application message, not
 * those of one connection (topic alias, subscription identifiers). With a hop limit, the hop count goes up by one.
 */
export function forwardedProperties(properties: PublishProperties | undefined, hopLimit: number): PublishProperties | undefined {
  const carried = messageProperties(properties) as PublishProperties | undefined
  if (hopLimit === 0) return carried
  const out: PublishProperties = carried ?? {}
  out.userProperties = { ...out.userProperties, [HOPS_PROPERTY]: String(hopsOf(properties) + 1) }
  return out
}
