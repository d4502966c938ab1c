/** A MessagePack array32 header: its size is not known until the last field, so it always takes five bytes. */
const ARRAY_HEADER = 5
/** Strings up to this many UTF-16 units fit a fixstr (31 bytes) whatever they hold: a unit is at most 3 bytes of UTF-8. */
const FIXSTR_UNITS = 10
/** Up to this many UTF-16 units a loop in JS copies a string faster than a call to `Buffer.write` (about 100 ns). */
const SHORT_UNITS = 16
/** Where a new packing starts: a full batch of small messages packs to about 100 KiB. */
const INITIAL_BYTES = 16 * 1024

/**
 * A batch's write fields packed as one MessagePack array of strings, which the batch script unpacks with Redis'
 * built-in `cmsgpack`. ioredis then sends one bulk argument per batch instead of flattening, converting and
 * framing each of its fields (about 1,500 in a full batch), and Redis parses one argument instead of as many.
 * Every field is a MessagePack str, which cmsgpack turns into a Lua string as ARGV's were: Redis' cmsgpack
 * knows no bin type, and a str may carry any bytes.
 */
export class PackedFields {
  private buffer: Buffer
  private end = ARRAY_HEADER
  private count = 0

  constructor(expectedBytes = INITIAL_BYTES) {
    this.buffer = Buffer.allocUnsafe(Math.max(Math.ceil(expectedBytes), INITIAL_BYTES))
  }

  string(value: string): void {
    const units = value.length
    const header = units <= FIXSTR_UNITS ? 1 : units * 3 <= 0xff ? 2 : units * 3 <= 0xffff ? 3 : 5
    this.reserve(header + units * 3)
    const bytes = this.utf8(value, this.end + header)
    this.header(header, bytes)
    this.end += header + bytes
    this.count++
  }

  number(value: number): void {
    this.string(String(value))
  }

  /**
   * A stored message as `encodeEnvelope` lays it out (a 4-byte length, the JSON header, the payload), written
   * in place rather than built and then copied.
   */
  envelope(headerJson: string, payload: Buffer): void {
    this.reserve(9 + headerJson.length * 3 + payload.length)
    const jsonBytes = this.utf8(headerJson, this.end + 9)
    this.buffer.writeUInt32BE(jsonBytes, this.end + 5)
    this.buffer.set(payload, this.end + 9 + jsonBytes)
    const bytes = 4 + jsonBytes + payload.length
    this.header(5, bytes)
    this.end += 5 + bytes
    this.count++
  }

  /** The packed array; the packer is not used after this. */
  finish(): Buffer {
    this.buffer[0] = 0xdd
    this.buffer.writeUInt32BE(this.count, 1)
    return this.buffer.subarray(0, this.end)
  }

  /** Writes `value` as UTF-8 at `at` (room reserved): returns its bytes. */
  private utf8(value: string, at: number): number {
    const buffer = this.buffer
    const units = value.length
    if (units > SHORT_UNITS) return buffer.write(value, at)
    // Opcodes, numbers and short ids are mostly ASCII: copied a unit at a time they cost no call into C++.
    for (let i = 0; i < units; i++) {
      const unit = value.charCodeAt(i)
      if (unit >= 0x80) return buffer.write(value, at)
      buffer[at + i] = unit
    }
    return units
  }

  /** Writes a str header of `size` bytes at the end for a string of `bytes` bytes; does not move the end. */
  private header(size: number, bytes: number): void {
    const buffer = this.buffer
    const at = this.end
    if (size === 1) buffer[at] = 0xa0 | bytes
    else if (size === 2) {
      buffer[at] = 0xd9
      buffer[at + 1] = bytes
    } else if (size === 3) {
      buffer[at] = 0xda
      buffer.writeUInt16BE(bytes, at + 1)
    } else {
      buffer[at] = 0xdb
      buffer.writeUInt32BE(bytes, at + 1)
    }
  }

  private reserve(bytes: number): void {
    if (this.end + bytes <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.end + bytes))
    this.buffer.copy(grown, 0, 0, this.end)
    this.buffer = grown
  }
}
