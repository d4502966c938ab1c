import type { ResourceType, ResourceValue } from '../objects/types.js'

export class ValueError extends Error {}

/** The type a value written without one is sent as. */
export function inferType(value: ResourceValue): ResourceType {
  if (typeof value === 'boolean') return 'Boolean'
  if (typeof value === 'number') return Number.isInteger(value) ? 'Integer' : 'Float'
  return 'String'
}

/** A TLV value's bytes as JSON (LwM2M 1.0 §C): untyped and Opaque bytes become base64. */
export function decodeBinary(bytes: Buffer, type: ResourceType | undefined): ResourceValue {
  switch (type) {
    case 'String':
      return bytes.toString('utf8')
    case 'Integer':
    case 'Time':
      if (bytes.length === 1) return bytes.readInt8(0)
      if (bytes.length === 2) return bytes.readInt16BE(0)
      if (bytes.length === 4) return bytes.readInt32BE(0)
      if (bytes.length === 8) return Number(bytes.readBigInt64BE(0))
      throw new ValueError(`an Integer is 1, 2, 4 or 8 bytes, not ${bytes.length}`)
    case 'Float':
      if (bytes.length === 4) return bytes.readFloatBE(0)
      if (bytes.length === 8) return bytes.readDoubleBE(0)
      throw new ValueError(`a Float is 4 or 8 bytes, not ${bytes.length}`)
    case 'Boolean':
      if (bytes.length !== 1 || (bytes[0] as number) > 1) throw new ValueError('a Boolean is one byte, 0 or 1')
      return bytes[0] === 1
    case 'Objlnk':
      if (bytes.length !== 4) throw new ValueError('an Objlnk is 4 bytes')
      return `${bytes.readUInt16BE(0)}:${bytes.readUInt16BE(2)}`
    default:
      return bytes.toString('base64')
  }
}

function integerBytes(value: number): Buffer {
  if (value >= -0x80 && value <= 0x7f) return Buffer.from([value & 0xff])
  if (value >= -0x8000 && value <= 0x7fff) {
    const out = Buffer.alloc(2)
    out.writeInt16BE(value)
    return out
  }
  if (value >= -0x80000000 && value <= 0x7fffffff) {
    const out = Buffer.alloc(4)
    out.writeInt32BE(value)
    return out
  }
  const out = Buffer.alloc(8)
  out.writeBigInt64BE(BigInt(value))
  return out
}

function numberOf(value: ResourceValue, type: ResourceType): number {
  const number = typeof value === 'number' ? value : typeof value === 'boolean' ? Number(value) : Number(value)
  if (!Number.isFinite(number)) throw new ValueError(`${JSON.stringify(value)} is not a ${type}`)
  if ((type === 'Integer' || type === 'Time') && !Number.isInteger(number)) throw new ValueError(`${value} is not an integer`)
  return number
}

/** A JSON value as TLV bytes of its type. */
export function encodeBinary(value: ResourceValue, type: ResourceType): Buffer {
  switch (type) {
    case 'Integer':
    case 'Time':
      return integerBytes(numberOf(value, type))
    case 'Float': {
      const out = Buffer.alloc(8)
      out.writeDoubleBE(numberOf(value, type))
      return out
    }
    case 'Boolean':
      return Buffer.from([value === true || value === 1 || value === '1' || value === 'true' ? 1 : 0])
    case 'Objlnk': {
      const match = /^(\d+):(\d+)$/.exec(String(value))
      if (!match) throw new ValueError(`an Objlnk is "objectId:instanceId", not ${JSON.stringify(value)}`)
      const out = Buffer.alloc(4)
      out.writeUInt16BE(Number(match[1]), 0)
      out.writeUInt16BE(Number(match[2]), 2)
      return out
    }
    case 'Opaque':
      return Buffer.from(String(value), 'base64')
    default:
      return Buffer.from(String(value), 'utf8')
  }
}

/** A text/plain payload (LwM2M 1.0 §6.4.1) as JSON. */
export function decodeText(text: string, type: ResourceType | undefined): ResourceValue {
  switch (type) {
    case 'Integer':
    case 'Time':
    case 'Float': {
      const number = Number(text)
      if (text.trim() === '' || !Number.isFinite(number)) throw new ValueError(`${JSON.stringify(text)} is not a ${type}`)
      return number
    }
    case 'Boolean':
      if (text !== '0' && text !== '1') throw new ValueError('a Boolean in text is "0" or "1"')
      return text === '1'
    default:
      return text
  }
}

export function encodeText(value: ResourceValue, type: ResourceType): string {
  if (type === 'Boolean') return value === true || value === 1 || value === '1' || value === 'true' ? '1' : '0'
  if (type === 'Integer' || type === 'Time' || type === 'Float') return String(numberOf(value, type))
  return String(value)
}
