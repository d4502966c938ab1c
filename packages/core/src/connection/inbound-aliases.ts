/**
 * Client-to-server topic aliases (MQTT 5 §3.3.2.3.4), bounded by the bytes of the topics they hold as well
 * as by their count: 65,535 aliases of 64 KiB topics would otherwise pin 4 GiB for one connection.
 */
export class InboundAliases {
  private readonly topics = new Map<number, string>()
  private bytes = 0

  constructor(private readonly maxBytes: number) {}

  /** Sets an alias; false (nothing changed) when it would take the topics over the byte budget. */
  set(alias: number, topic: string): boolean {
    const previous = this.topics.get(alias)
    const bytes = this.bytes - (previous === undefined ? 0 : Buffer.byteLength(previous)) + Buffer.byteLength(topic)
    if (bytes > this.maxBytes) return false
    this.topics.set(alias, topic)
    this.bytes = bytes
    return true
  }

  get(alias: number): string | undefined {
    return this.topics.get(alias)
  }
}
