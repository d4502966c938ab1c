/**
 * Reads a MessagePack array of strings as Redis' `cmsgpack.pack` writes it for a script's reply, in place: a
 * field is a byte range of the reply (`start`, `end`), so a reply of many fields is one Buffer for the client
 * to parse and hand over instead of one per field.
 */
export class PackedReply {
  /** The current field's bytes are `buffer[start, end)`, once `next()` has read it. */
  start = 0
  end = 0
  /** How many fields the array holds. */
  readonly length: number
  private at: number

  constructor(readonly buffer: Buffer) {
    const type = buffer[0] as number
    if (type >= 0x90 && type <= 0x9f) {
      this.length = type & 0x0f
      this.at = 1
    } else if (type === 0xdc) {
      this.length = buffer.readUInt16BE(1)
      this.at = 3
    } else if (type === 0xdd) {
      this.length = buffer.readUInt32BE(1)
      this.at = 5
    } else {
      throw new Error(`packed reply: not an array (type 0x${type.toString(16)})`)
    }
  }

  /** Moves to the next field. */
  next(): void {
    const buffer = this.buffer
    const type = buffer[this.at] as number
    let bytes: number
    if (type >= 0xa0 && type <= 0xbf) {
      bytes = type & 0x1f
      this.start = this.at + 1
    } else if (type === 0xd9) {
      bytes = buffer[this.at + 1] as number
      this.start = this.at + 2
    } else if (type === 0xda) {
      bytes = buffer.readUInt16BE(this.at + 1)
      this.start = this.at + 3
    } else if (type === 0xdb) {
      bytes = buffer.readUInt32BE(this.at + 1)
      this.start = this.at + 5
    } else {
      throw new Error(`packed reply: not a string (type 0x${type.toString(16)})`)
    }
    this.end = this.start + bytes
    this.at = this.end
  }

  /** The next field as text. */
  string(): string {
    this.next()
    return this.start === this.end ? '' : this.buffer.toString('utf8', this.start, this.end)
  }
}
