import type { ObjectRegistry } from '../objects/registry.js'
import type { ResourceType, ResourceValue } from '../objects/types.js'
import { ContentFormat } from './content-format.js'
import { splitLinks } from './link-format.js'
import { formatPath, parsePath, type Lwm2mPath } from './path.js'
import { decodeTlv, encodeTlv, type TlvEntry } from './tlv.js'
import { decodeBinary, decodeText, encodeBinary, encodeText, inferType } from './values.js'

/** One resource (instance) value as the MQTT JSON carries it. */
export interface ContentItem {
  path: string
  value: ResourceValue
}

/** A value to write: its full path, value, and the type to encode it as when the object definitions do not say. */
export interface WriteItem {
  path: Lwm2mPath
  value: ResourceValue
  type?: ResourceType
}

export class ContentError extends Error {}

function typeOf(registry: ObjectRegistry, path: readonly number[]): ResourceType | undefined {
  return path.length >= 3 ? registry.resource(path[0] as number, path[2] as number)?.type : undefined
}

function flattenTlv(entries: TlvEntry[], base: Lwm2mPath, registry: ObjectRegistry, out: ContentItem[]): void {
  for (const entry of entries) {
    switch (entry.kind) {
      case 'objectInstance':
        flattenTlv(entry.children ?? [], [base[0] as number, entry.id], registry, out)
        break
      case 'multipleResource':
        flattenTlv(entry.children ?? [], [...base.slice(0, 2), entry.id], registry, out)
        break
      case 'resource': {
        const path = [...base.slice(0, 2), entry.id]
        out.push({ path: formatPath(path), value: decodeBinary(entry.value as Buffer, typeOf(registry, path)) })
        break
      }
      case 'resourceInstance': {
        const path = [...base.slice(0, 3), entry.id]
        out.push({ path: formatPath(path), value: decodeBinary(entry.value as Buffer, typeOf(registry, path)) })
        break
      }
    }
  }
}

interface JsonRecord {
  n?: unknown
  v?: unknown
  sv?: unknown
  bv?: unknown
  ov?: unknown
}

function decodeJson(payload: Buffer, requestPath: Lwm2mPath): ContentItem[] {
  const document = JSON.parse(payload.toString('utf8')) as { bn?: unknown; e?: unknown }
  if (typeof document !== 'object' || document === null || !Array.isArray(document.e)) throw new ContentError('OMA JSON needs an "e" array')
  const baseName = typeof document.bn === 'string' ? document.bn : `${formatPath(requestPath)}/`
  return (document.e as JsonRecord[]).map((record) => {
    const name = typeof record.n === 'string' ? record.n : ''
    const path = parsePath(`${baseName}${name}`.replace(/\/+/g, '/'))
    if (!path) throw new ContentError(`bad name ${JSON.stringify(baseName + name)}`)
    let value: ResourceValue
    if (typeof record.v === 'number') value = record.v
    else if (typeof record.sv === 'string') value = record.sv
    else if (typeof record.bv === 'boolean') value = record.bv
    else if (typeof record.ov === 'string') value = record.ov
    else throw new ContentError(`record ${JSON.stringify(name)} has no v, sv, bv or ov`)
    return { path: formatPath(path), value }
  })
}

/** A device's response payload as the list of values the MQTT JSON carries (Discover: the links as written). */
export function decodeContent(format: number, payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry): ContentItem[] | string[] {
  if (payload.length === 0) return []
  switch (format) {
    case ContentFormat.tlv: {
      const items: ContentItem[] = []
      flattenTlv(decodeTlv(payload), requestPath, registry, items)
      return items
    }
    case ContentFormat.json:
      return decodeJson(payload, requestPath)
    case ContentFormat.linkFormat:
      return splitLinks(payload.toString('utf8'))
    case ContentFormat.text:
    case ContentFormat.opaque: {
      // Both carry exactly one resource (instance) value (§6.4.1, §6.4.2).
      if (requestPath.length < 3) throw new ContentError(`a ${format === 0 ? 'text' : 'opaque'} value needs a resource path, not ${formatPath(requestPath)}`)
      const value = format === ContentFormat.text ? decodeText(payload.toString('utf8'), typeOf(registry, requestPath)) : payload.toString('base64')
      return [{ path: formatPath(requestPath), value }]
    }
    default:
      throw new ContentError(`content format ${format} is not one LwM2M 1.0 defines`)
  }
}

function typed(item: WriteItem, registry: ObjectRegistry): ResourceType {
  return item.type ?? typeOf(registry, item.path) ?? inferType(item.value)
}

function tlvEntries(items: WriteItem[], level: number, registry: ObjectRegistry): TlvEntry[] {
  const groups = new Map<number, WriteItem[]>()
  for (const item of items) {
    const id = item.path[level]
    if (id === undefined) throw new ContentError(`${formatPath(item.path)} is not below the path written`)
    const group = groups.get(id)
    if (group) group.push(item)
    else groups.set(id, [item])
  }
  const entries: TlvEntry[] = []
  for (const [id, group] of groups) {
    const first = group[0] as WriteItem
    if (level === 1) entries.push({ kind: 'objectInstance', id, children: tlvEntries(group, 2, registry) })
    else if (level === 2 && first.path.length === 3) entries.push({ kind: 'resource', id, value: encodeBinary(first.value, typed(first, registry)) })
    else if (level === 2) entries.push({ kind: 'multipleResource', id, children: tlvEntries(group, 3, registry) })
    else entries.push({ kind: 'resourceInstance', id, value: encodeBinary(first.value, typed(first, registry)) })
  }
  return entries
}

function jsonRecord(item: WriteItem, target: Lwm2mPath, registry: ObjectRegistry): Record<string, ResourceValue> {
  const record: Record<string, ResourceValue> = { n: item.path.slice(target.length).join('/') }
  const type = typed(item, registry)
  if (type === 'Boolean') record.bv = item.value === true || item.value === 1 || item.value === '1' || item.value === 'true'
  else if (type === 'Integer' || type === 'Float' || type === 'Time') record.v = Number(item.value)
  else if (type === 'Objlnk') record.ov = String(item.value)
  else record.sv = String(item.value)
  return record
}

/** The payload writing `items` to `target` in `format` (Write, Create). */
export function encodeContent(format: number, items: WriteItem[], target: Lwm2mPath, registry: ObjectRegistry): Buffer {
  switch (format) {
    case ContentFormat.tlv: {
      const level = target.length === 1 ? 1 : target.length === 4 ? 3 : 2
      return encodeTlv(tlvEntries(items, level, registry))
    }
    case ContentFormat.json:
      return Buffer.from(JSON.stringify({ bn: `${formatPath(target)}/`, e: items.map((item) => jsonRecord(item, target, registry)) }))
    case ContentFormat.text:
    case ContentFormat.opaque: {
      const [item] = items
      if (items.length !== 1 || !item || target.length < 3) throw new ContentError('text and opaque carry one resource value')
      return format === ContentFormat.text ? Buffer.from(encodeText(item.value, typed(item, registry))) : Buffer.from(String(item.value), 'base64')
    }
    default:
      throw new ContentError(`cannot write content format ${format}`)
  }
}
