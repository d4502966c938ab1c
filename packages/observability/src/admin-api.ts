import { isUtf8 } from 'node:buffer'
import { AdminError, type Broker, type Message } from '@wren/core'
import { ApiError, ApiErrorCode } from './api-error.js'
import { page } from './http-json.js'
import type { ComponentSnapshots } from './components.js'
import type { OverviewSource } from './overview.js'

/** What a route answers: a status and a JSON body. */
export interface ApiAnswer {
  status: number
  body: unknown
}

/** A retained message as JSON: the payload as text when it is UTF-8, base64 otherwise. */
export interface RetainedJson {
  topic: string
  qos: number
  size: number
  encoding: 'utf8' | 'base64'
  payload: string
  /** Set in lists when `payload` holds only the first bytes. */
  truncated?: boolean
  properties?: Message['properties']
}

const PREVIEW_BYTES = 256

function retainedJson(message: Message, preview: boolean): RetainedJson {
  const bytes = preview ? message.payload.subarray(0, PREVIEW_BYTES) : message.payload
  const text = isUtf8(message.payload) || (preview && isUtf8(bytes))
  const json: RetainedJson = {
    topic: message.topic,
    qos: message.qos,
    size: message.payload.length,
    encoding: text ? 'utf8' : 'base64',
    payload: bytes.toString(text ? 'utf8' : 'base64'),
  }
  if (bytes.length < message.payload.length) json.truncated = true
  if (message.properties) json.properties = message.properties
  return json
}

const ADMIN_STATUS: Record<AdminError['code'], number> = {
  WREN_CLIENT_NOT_FOUND: 404,
  WREN_SESSION_NOT_FOUND: 404,
  WREN_ON_OTHER_NODE: 409,
  WREN_TOPIC_INVALID: 400,
}

function contains(value: string | undefined, needle: string | null): boolean {
  return needle === null || (value !== undefined && value.toLowerCase().includes(needle.toLowerCase()))
}

function optional(query: URLSearchParams, name: string): string | undefined {
  return query.get(name) ?? undefined
}

const ok = (body: unknown): ApiAnswer => ({ status: 200, body })

/** What the API serves from: the broker, its overviews, and its bridges' and gateways' snapshots. */
export interface ApiContext {
  broker: Broker
  overview: OverviewSource
  components: ComponentSnapshots
}

/** One request: `path` is what follows `/api/v1`. */
export interface ApiRequest {
  method: string
  path: string
  query: URLSearchParams
}

/** `/api/v1/...` over `broker.admin`; the caller has authenticated already. */
export async function answerApi(context: ApiContext, request: ApiRequest): Promise<ApiAnswer> {
  try {
    return await route(context, request)
  } catch (error) {
    if (error instanceof AdminError) throw new ApiError(ADMIN_STATUS[error.code], error.code, error.message)
    throw error
  }
}

const COMPONENT_KINDS = { bridges: 'bridge', gateways: 'gateway' } as const

async function route({ broker, overview, components }: ApiContext, { method, path, query }: ApiRequest): Promise<ApiAnswer> {
  const admin = broker.admin
  const [, collection = '', ...rest] = path.split('/')
  const key = rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined
  const allow = (...methods: string[]): void => {
    if (!methods.includes(method)) throw new ApiError(405, ApiErrorCode.MethodNotAllowed, `${method} is not allowed on ${path} (allowed: ${methods.join(', ')})`)
  }
  switch (collection) {
    case 'stats':
      if (key !== undefined) break
      allow('GET')
      return ok(await overview.take())
    case 'clients': {
      if (key === undefined) {
        allow('GET')
        const q = query.get('q')
        const username = query.get('username')
        const list = admin.clients().filter((c) => (contains(c.id, q) || contains(c.username, q)) && (username === null || c.username === username))
        return ok(page(list, query))
      }
      allow('GET', 'DELETE')
      if (method === 'DELETE') {
        admin.kick(key, query.get('reason') ?? undefined)
        return ok({ kicked: key })
      }
      const client = admin.client(key)
      if (!client) throw new ApiError(404, ApiErrorCode.ClientNotFound, `no client '${key}' connected to this node`)
      return ok(client)
    }
    case 'sessions': {
      if (key === undefined) {
        allow('GET')
        const state = query.get('state')
        if (state !== null && state !== 'online' && state !== 'offline') throw new ApiError(400, ApiErrorCode.BadRequest, `state must be online or offline, got "${state}"`)
        const q = query.get('q')
        const list = (await admin.sessions()).filter((s) => (state === null || s.state === state) && contains(s.clientId, q))
        return ok(page(list, query))
      }
      allow('GET', 'DELETE')
      if (method === 'DELETE') {
        await admin.deleteSession(key)
        return ok({ deleted: key })
      }
      const session = await admin.session(key)
      if (!session) throw new ApiError(404, ApiErrorCode.SessionNotFound, `no session '${key}'`)
      return ok(session)
    }
    case 'subscriptions':
      if (key !== undefined) break
      allow('GET')
      return ok(page(admin.subscriptions({ clientId: optional(query, 'clientId'), filter: optional(query, 'filter'), topic: optional(query, 'topic') }), query))
    case 'retained': {
      if (key === undefined) {
        allow('GET')
        const list = await admin.retained(query.get('filter') ?? '#')
        const result = page(list, query)
        return ok({ ...result, items: result.items.map((m) => retainedJson(m, true)) })
      }
      allow('GET', 'DELETE')
      if (method === 'DELETE') {
        if (!(await admin.deleteRetained(key))) throw new ApiError(404, ApiErrorCode.RetainedNotFound, `no retained message on '${key}'`)
        return ok({ deleted: key })
      }
      const message = await admin.retainedMessage(key)
      if (!message) throw new ApiError(404, ApiErrorCode.RetainedNotFound, `no retained message on '${key}'`)
      return ok(retainedJson(message, false))
    }
    case 'bridges':
    case 'gateways': {
      allow('GET')
      const kind = COMPONENT_KINDS[collection]
      if (key === undefined) return ok(page(components.list(kind), query))
      const component = components.get(kind, key)
      if (!component) throw new ApiError(404, kind === 'bridge' ? ApiErrorCode.BridgeNotFound : ApiErrorCode.GatewayNotFound, `no ${kind} '${key}'`)
      return ok(component)
    }
  }
  throw new ApiError(404, ApiErrorCode.NotFound, `no API route ${path}`)
}
