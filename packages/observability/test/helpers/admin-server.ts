import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { onTestFinished } from 'vitest'
import { createAdminHandler, type AdminHandler, type AdminHandlerOptions } from '../../src/index.js'

export interface AdminServer {
  handler: AdminHandler
  server: Server
  /** http://127.0.0.1:<port> */
  url: string
}

/** Serves the admin handler on a loopback port; closed when the test finishes. */
export async function startAdminServer(options: AdminHandlerOptions): Promise<AdminServer> {
  const handler = createAdminHandler(options)
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(async () => {
    handler.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { handler, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}
