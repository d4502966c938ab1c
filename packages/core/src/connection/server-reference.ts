import { ReasonCode } from '../errors.js'
import type { ResolvedOptions } from '../options.js'

/** [MQTT-4.11] a redirect (0x9C use another server, 0x9D server moved) names where to go: CONNACK or DISCONNECT. */
export function redirectReference(options: ResolvedOptions, reasonCode: number): string | undefined {
  const reference = options.serverReference
  const redirect = reasonCode === ReasonCode.UseAnotherServer || reasonCode === ReasonCode.ServerMoved
  return redirect && reference !== '' ? reference : undefined
}
