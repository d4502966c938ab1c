/** Counters behind `$SYS/broker/...`; plain numbers so that counting costs nothing on the hot path. */
export class BrokerStats {
  readonly startedAt = Date.now()
  clientsTotal = 0
  clientsConnected = 0
  clientsMaximum = 0
  messagesReceived = 0
  messagesSent = 0
  publishReceived = 0
  publishSent = 0
  bytesReceived = 0
  bytesSent = 0
  /** Messages dropped because a queue was full, the socket congested, or the client could not take them. */
  messagesDropped = 0

  clientConnected(): void {
    this.clientsConnected++
    if (this.clientsConnected > this.clientsMaximum) this.clientsMaximum = this.clientsConnected
  }
}
