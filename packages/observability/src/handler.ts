import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Broker } from '@wren/core'
import { answerApi } from './admin-api.js'
import { ComponentSnapshots } from './components.js'
import { DashboardAssets } from './dashboard-assets.js'
import { ApiError, ApiErrorCode } from './api-error.js'
import { sendError, sendJson } from './http-json.js'
import { LiveFeed } from './live-feed.js'
import { createMetrics, type BrokerMetrics, type MetricsOptions } from './metrics.js'
import { OverviewSource } from './overview.js'

/** Decides whether a request may use the API, the metrics and the live feed (a session cookie, an IP allow-list...). */
export type AuthorizeRequest = (req: IncomingMessage) => boolean | Promise<boolean>

export interface AdminHandlerOptions {
  broker: Broker
  /** Requests must carry `Authorization: Bearer <token>` (unless `authorize` lets them in). */
  token?: string
  /** Lets a request in (with `token` set: one without the right token). */
  authorize?: AuthorizeRequest
  /** Serve `/metrics` without authentication (for a Prometheus that cannot send a token). Default false. */
  publicMetrics?: boolean
  /** The metrics to serve, or options for the ones created here. */
  metrics?: BrokerMetrics | MetricsOptions
  /** Milliseconds between live updates of the dashboard. Default 1000. */
  liveInterval?: number
}

type Next = (error?: unknown) => void

/** A request handler for `http.createServer(handler)` or `app.use('/admin', handler)`. */
export interface AdminHandler {
  (req: IncomingMessage, res: ServerResponse, next?: Next): void
  readonly metrics: BrokerMetrics
  /** Ends live feeds and stops measuring the event loop. The server around it is the host's to close. */
  close(): void
}

const PAGES = new Set(['/', '/clients', '/sessions', '/subscriptions', '/retained', '/bridges', '/gateways'])

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

function isBrokerMetrics(value: BrokerMetrics | MetricsOptions | undefined): value is BrokerMetrics {
  return value !== undefined && typeof (value as BrokerMetrics).metrics === 'function'
}

/** The path the host mounted the handler under (Express strips it from `req.url` and keeps it in `originalUrl`). */
function mountPath(req: IncomingMessage, path: string): string {
  const original = new URL((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/', 'http://host').pathname
  // Express hands `/admin` to a handler mounted there as `/`.
  const mount = original.endsWith(path) ? original.slice(0, original.length - path.length) : path === '/' ? original : ''
  return mount.endsWith('/') ? mount.slice(0, -1) : mount
}

/**
 * One handler for Prometheus metrics (`/metrics`), the admin API (`/api/v1/...`) and the live dashboard
 * (`/`, `/clients`, `/sessions`, `/subscriptions`, `/retained`, `/bridges`, `/gateways`, `/assets/...`).
 */
export function createAdminHandler(options: AdminHandlerOptions): AdminHandler {
  const { broker } = options
  const metrics = isBrokerMetrics(options.metrics) ? options.metrics : createMetrics(broker, options.metrics)
  const overview = new OverviewSource(broker)
  const feed = new LiveFeed(overview, options.liveInterval ?? 1000)
  const assets = new DashboardAssets()
  const expected = options.token === undefined ? undefined : digest(options.token)
  const api = { broker, overview, components: new ComponentSnapshots(broker) }

  const authorized = async (req: IncomingMessage): Promise<boolean> => {
    if (expected === undefined && options.authorize === undefined) return true
    const header = req.headers.authorization
    if (expected !== undefined && header?.startsWith('Bearer ') && timingSafeEqual(digest(header.slice(7)), expected)) return true
    return options.authorize ? await options.authorize(req) : false
  }

  const serve = async (req: IncomingMessage, res: ServerResponse, next: Next | undefined): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://host')
    const path = url.pathname
    const method = req.method ?? 'GET'
    if (method === 'GET' && PAGES.has(path)) return assets.page(res, mountPath(req, path))
    if (method === 'GET' && path.startsWith('/assets/')) return assets.file(res, path.slice('/assets/'.length))
    const isMetrics = path === '/metrics'
    const isApi = path === '/api/v1' || path.startsWith('/api/v1/')
    if (!isMetrics && !isApi) {
      if (next) return next()
      throw new ApiError(404, ApiErrorCode.NotFound, `nothing at ${path}`)
    }
    if (!(isMetrics && options.publicMetrics) && !(await authorized(req))) {
      return sendError(res, new ApiError(401, ApiErrorCode.Unauthorized, 'missing or wrong bearer token'), { 'www-authenticate': 'Bearer realm="wren"' })
    }
    if (isMetrics) {
      const text = await metrics.metrics()
      res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' })
      res.end(text)
      return
    }
    const apiPath = path.slice('/api/v1'.length)
    if (apiPath === '/events' && method === 'GET') return feed.subscribe(req, res)
    const answer = await answerApi(api, { method, path: apiPath, query: url.searchParams })
    sendJson(res, answer.status, answer.body)
  }

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: Next): void => {
    serve(req, res, next).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy()
        return
      }
      if (error instanceof ApiError) sendError(res, error)
      else {
        broker.logger.error({ err: error, url: req.url }, 'admin request failed')
        sendError(res, new ApiError(500, ApiErrorCode.Internal, 'internal error'))
      }
    })
  }) as AdminHandler
  Object.defineProperty(handler, 'metrics', { value: metrics })
  Object.defineProperty(handler, 'close', {
    value: () => {
      feed.close()
      overview.close()
    },
  })
  return handler
}
