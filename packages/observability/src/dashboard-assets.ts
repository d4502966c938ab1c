import { readFileSync, readdirSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiError, ApiErrorCode } from './api-error.js'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/** The placeholder in index.html replaced by the path the handler is mounted under. */
const BASE = '%BASE%'

/** The dashboard's files, shipped in the package's `assets/` and read once: no build step, no file access per request. */
export class DashboardAssets {
  private readonly files = new Map<string, { type: string; body: Buffer }>()
  private readonly index: string

  constructor(dir = fileURLToPath(new URL('../assets/', import.meta.url))) {
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)]
      if (type) this.files.set(name, { type, body: readFileSync(join(dir, name)) })
    }
    this.index = this.files.get('index.html')?.body.toString('utf8') ?? ''
  }

  /** A dashboard page: the one HTML shell, with links resolved against the mount path. */
  page(res: ServerResponse, mount: string): void {
    const html = this.index.replace(BASE, `${mount}/`)
    res.writeHead(200, { 'content-type': TYPES['.html'] as string, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'" })
    res.end(html)
  }

  file(res: ServerResponse, name: string): void {
    const file = name === 'index.html' ? undefined : this.files.get(name)
    if (!file) throw new ApiError(404, ApiErrorCode.NotFound, `no asset ${name}`)
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' })
    res.end(file.body)
  }
}
