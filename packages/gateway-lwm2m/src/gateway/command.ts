import { encodeContent, type WriteItem } from '../codec/content.js'
import { ContentFormat, FORMAT_NAMES } from '../codec/content-format.js'
import { formatPath, parsePath, type Lwm2mPath } from '../codec/path.js'
import type { ObjectRegistry } from '../objects/registry.js'
import type { ResourceType, ResourceValue } from '../objects/types.js'

export const MSG_TYPES = ['read', 'discover', 'write', 'write-attr', 'execute', 'create', 'delete', 'observe', 'cancel-observe'] as const
export type MsgType = (typeof MSG_TYPES)[number]

/** What the gateway asks a device, made from one MQTT JSON command. */
export interface DeviceRequest {
  /** reqID / requestID / cacheID as the command gave them, echoed in the response. */
  ids: Record<string, unknown>
  msgType: MsgType
  reqPath: string
  path: Lwm2mPath
  method: 'GET' | 'PUT' | 'POST' | 'DELETE'
  query?: string
  payload?: Buffer
  contentFormat?: number
  accept?: number
  observe?: 0 | 1
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly ids: Record<string, unknown>,
    readonly msgType: string,
    readonly reqPath: string,
  ) {
    super(message)
  }
}

const ID_FIELDS = ['reqID', 'requestID', 'cacheID'] as const
const ATTRIBUTES = ['pmin', 'pmax', 'gt', 'lt', 'st'] as const
const TYPES: readonly ResourceType[] = ['String', 'Integer', 'Float', 'Boolean', 'Opaque', 'Time', 'Objlnk']

type Data = Record<string, unknown>

function isValue(value: unknown): value is ResourceValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

function writeItem(base: Lwm2mPath, relative: unknown, value: unknown, type: unknown, fail: (why: string) => never): WriteItem {
  const sub = relative === undefined || relative === '' ? [] : parsePath(String(relative))
  if (!sub) fail(`bad path ${JSON.stringify(relative)}`)
  if (!isValue(value)) fail('each value must be a string, number or boolean')
  if (type !== undefined && !TYPES.includes(type as ResourceType)) fail(`unknown type ${JSON.stringify(type)}`)
  const item: WriteItem = { path: [...base, ...sub], value }
  if (type !== undefined) item.type = type as ResourceType
  return item
}

function format(data: Data, key: 'format' | 'accept', fallback: number | undefined, fail: (why: string) => never): number | undefined {
  const name = data[key]
  if (name === undefined) return fallback
  const number = FORMAT_NAMES[String(name)]
  if (number === undefined) fail(`${key} must be one of ${Object.keys(FORMAT_NAMES).join(', ')}`)
  return number
}

/**
 * An EMQX-style JSON command (`{"reqID", "msgType", "data": {"path", ...}}`) as the CoAP request it stands for
 * (LwM2M 1.0 §5.4); throws CommandError saying what is wrong, with what the error response needs.
 */
export function parseCommand(payload: Buffer, registry: ObjectRegistry): DeviceRequest {
  let parsed: unknown
  try {
    parsed = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new CommandError('not JSON', {}, 'unknown', '')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CommandError('not a JSON object', {}, 'unknown', '')
  const command = parsed as Record<string, unknown>
  const ids: Record<string, unknown> = {}
  for (const field of ID_FIELDS) if (command[field] !== undefined) ids[field] = command[field]
  const msgType = typeof command.msgType === 'string' ? command.msgType : 'unknown'
  const data = (typeof command.data === 'object' && command.data !== null ? command.data : {}) as Data
  const pathText = typeof data.path === 'string' ? data.path : typeof data.basePath === 'string' ? data.basePath : ''
  const fail = (why: string): never => {
    throw new CommandError(why, ids, msgType, pathText)
  }
  if (!(MSG_TYPES as readonly string[]).includes(msgType)) fail(`msgType must be one of ${MSG_TYPES.join(', ')}`)
  const path = parsePath(pathText)
  if (!path) return fail(`data.path ${JSON.stringify(pathText)} is not an LwM2M path`)
  const request: DeviceRequest = { ids, msgType: msgType as MsgType, reqPath: formatPath(path), path, method: 'GET' }
  switch (request.msgType) {
    case 'read':
      request.accept = format(data, 'accept', undefined, fail)
      break
    case 'discover':
      request.accept = ContentFormat.linkFormat
      break
    case 'observe':
      request.observe = 0
      request.accept = format(data, 'accept', undefined, fail)
      break
    case 'cancel-observe':
      request.observe = 1
      break
    case 'delete':
      request.method = 'DELETE'
      break
    case 'execute':
      if (path.length !== 3) fail('execute needs a resource path')
      request.method = 'POST'
      if (data.args !== undefined && data.args !== '') request.payload = Buffer.from(String(data.args))
      break
    case 'write-attr': {
      const query: string[] = []
      for (const name of ATTRIBUTES) {
        const value = data[name]
        if (value === undefined || value === null || value === '') continue
        if (!Number.isFinite(Number(value))) fail(`${name} must be a number`)
        query.push(`${name}=${Number(value)}`)
      }
      request.method = 'PUT'
      request.query = query.join('&')
      break
    }
    case 'write':
    case 'create': {
      let items: WriteItem[]
      if (Array.isArray(data.content)) {
        items = (data.content as Data[]).map((entry) => writeItem(path, entry?.path, entry?.value, entry?.type, fail))
      } else {
        items = [writeItem(path, '', data.value, data.type, fail)]
      }
      if (items.length === 0) fail('nothing to write')
      const contentFormat = format(data, 'format', ContentFormat.tlv, fail) as number
      if (request.msgType === 'create') {
        if (path.length !== 1) fail('create needs an object path')
        // Content paths of one id are resources of the instance the device numbers; "instance/resource" names it.
        const named = items.every((item) => item.path.length === 3)
        const target = named ? path : [...path, 0]
        const placed = named ? items : items.map((item) => ({ ...item, path: [...target, ...item.path.slice(1)] }))
        request.payload = encodeWith(contentFormat, placed, target, registry, fail)
        request.method = 'POST'
      } else {
        if (path.length < 2) fail('write needs an object instance or resource path')
        request.payload = encodeWith(contentFormat, items, path, registry, fail)
        // A single resource or a whole instance ("mode": "replace") is replaced (PUT); otherwise a partial update (POST).
        request.method = path.length >= 3 || data.mode === 'replace' ? 'PUT' : 'POST'
      }
      request.contentFormat = contentFormat
      break
    }
  }
  return request
}

function encodeWith(contentFormat: number, items: WriteItem[], target: Lwm2mPath, registry: ObjectRegistry, fail: (why: string) => never): Buffer {
  try {
    return encodeContent(contentFormat, items, target, registry)
  } catch (error) {
    return fail((error as Error).message)
  }
}
