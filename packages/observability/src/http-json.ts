import type { ServerResponse } from 'node:http'
import { ApiError, ApiErrorCode } from './api-error.js'

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export function sendError(res: ServerResponse, error: ApiError, headers: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
  sendJson(res, error.status, { error: { code: error.code, message: error.message } })
}

export interface Page<T> {
  items: T[]
  total: number
  offset: number
  limit: number
}

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 1000

function whole(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = query.get(name)
  if (raw === null) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) > max) throw new ApiError(400, ApiErrorCode.BadRequest, `${name} must be an integer from 0 to ${max}, got "${raw}"`)
  return Number(raw)
}

/** `?offset=&limit=` applied to a list already filtered and ordered. */
export function page<T>(list: T[], query: URLSearchParams): Page<T> {
  const offset = whole(query, 'offset', 0, Number.MAX_SAFE_INTEGER)
  const limit = whole(query, 'limit', DEFAULT_LIMIT, MAX_LIMIT)
  return { items: list.slice(offset, offset + limit), total: list.length, offset, limit }
}
