import type { ConnectRequest } from '../hooks/hook-types.js'

/** Everything CONNECT decided that admission still needs, kept while an AUTH exchange runs. */
export interface PendingConnect {
  request: ConnectRequest
  willDelayInterval: number
  extras: ConnackExtras
  requestResponseInformation: boolean
}

/** What the CONNACK tells a v5 client beyond the reason code. */
export interface ConnackExtras {
  assigned: string | undefined
  expiryCapped: boolean
  expiryInterval: number
  keepaliveCapped: boolean
  keepalive: number
  authMethod: string | undefined
  authData: Buffer | undefined
}
