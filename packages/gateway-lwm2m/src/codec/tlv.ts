/** One OMA LwM2M TLV entry (LwM2M 1.0 §6.4.3): what it identifies, its id, and either raw bytes or children. */
export type TlvKind = 'objectInstance' | 'resourceInstance' | 'multipleResource' | 'resource'

export interface TlvEntry {
  kind: TlvKind
  id: number
  /** The value bytes of a resource or resource instance. */
  value?: Buffer
  /** The entries inside an object instance or a multiple resource. */
  children?: TlvEntry[]
}

const KINDS: TlvKind[] = ['objectInstance', 'resourceInstance', 'multipleResource', 'resource']

export class TlvError extends Error {}

/** Decodes a whole TLV payload; throws TlvError on anything truncated or out of place. */
export function decodeTlv(buffer: Buffer): TlvEntry[] {
  const entries: TlvEntry[] = []
  let offset = 0
  while (offset < buffer.length) {
    const type = buffer[offset] as number
    const kind = KINDS[type >> 6] as TlvKind
    const idLength = type & 0x20 ? 2 : 1
    const lengthType = (type >> 3) & 0x03
    let cursor = offset + 1
    if (cursor + idLength + lengthType > buffer.length) throw new TlvError('TLV header truncated')
    const id = idLength === 2 ? buffer.readUInt16BE(cursor) : (buffer[cursor] as number)
    cursor += idLength
    const length = lengthType === 0 ? type & 0x07 : buffer.readUIntBE(cursor, lengthType)
    cursor += lengthType
    if (cursor + length > buffer.length) throw new TlvError(`TLV value of ${length} bytes truncated`)
    const body = buffer.subarray(cursor, cursor + length)
    if (kind === 'objectInstance' || kind === 'multipleResource') {
      const children = decodeTlv(body)
      const expected = kind === 'objectInstance' ? ['resource', 'multipleResource'] : ['resourceInstance']
      if (children.some((child) => !expected.includes(child.kind))) throw new TlvError(`unexpected entry inside ${kind}`)
      entries.push({ kind, id, children })
    } else {
      entries.push({ kind, id, value: body })
    }
    offset = cursor + length
  }
  return entries
}

function header(kind: TlvKind, id: number, length: number): Buffer {
  const idLength = id > 0xff ? 2 : 1
  const lengthType = length < 8 ? 0 : length <= 0xff ? 1 : length <= 0xffff ? 2 : 3
  const out = Buffer.alloc(1 + idLength + lengthType)
  out[0] = (KINDS.indexOf(kind) << 6) | (idLength === 2 ? 0x20 : 0) | (lengthType << 3) | (lengthType === 0 ? length : 0)
  if (idLength === 2) out.writeUInt16BE(id, 1)
  else out[1] = id
  if (lengthType > 0) out.writeUIntBE(length, 1 + idLength, lengthType)
  return out
}

/** Encodes entries as TLV, children before their parent's header so lengths are known. */
export function encodeTlv(entries: TlvEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const entry of entries) {
    const body = entry.children ? encodeTlv(entry.children) : (entry.value ?? Buffer.alloc(0))
    parts.push(header(entry.kind, entry.id, body.length), body)
  }
  return Buffer.concat(parts)
}
