/**
 * Tests that run a build in a child process (the server CLI, the examples, cluster nodes, the benchmark
 * harness) must run what today's sources build to, as in-process tests do through vitest's aliases to src.
 * `pnpm test` builds first; run alone, such a test fails on a missing or stale build with the command that fixes it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PACKAGES = fileURLToPath(new URL('../../../', import.meta.url))
const WORKSPACE_SCOPE = '@wren/'

interface Manifest {
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

/** The package directories under packages/ that `name` (a directory name there) runs with, itself included. */
function withWorkspaceDependencies(name: string, found = new Set<string>()): Set<string> {
  if (found.has(name)) return found
  found.add(name)
  const manifest = JSON.parse(readFileSync(join(PACKAGES, name, 'package.json'), 'utf8')) as Manifest
  for (const [dependency, range] of Object.entries({ ...manifest.dependencies, ...manifest.peerDependencies })) {
    if (dependency.startsWith(WORKSPACE_SCOPE) && range.startsWith('workspace:')) {
      withWorkspaceDependencies(dependency.slice(WORKSPACE_SCOPE.length), found)
    }
  }
  return found
}

function newestChange(dir: string): number {
  let newest = 0
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' })) newest = Math.max(newest, statSync(join(dir, file)).mtimeMs)
  return newest
}

/** Throws unless each named package (directory under packages/) and its workspace dependencies are built from their current sources. */
export function assertBuilt(...packages: string[]): void {
  const all = new Set<string>()
  for (const name of packages) withWorkspaceDependencies(name, all)
  for (const name of all) {
    const entry = join(PACKAGES, name, 'dist', 'index.js')
    let builtAt: number
    try {
      builtAt = statSync(entry).mtimeMs
    } catch {
      throw new Error(`packages/${name} is not built: run "pnpm build" (or "pnpm test", which builds first)`)
    }
    if (newestChange(join(PACKAGES, name, 'src')) > builtAt) {
      throw new Error(`packages/${name}/dist is older than its src: run "pnpm build" (or "pnpm test", which builds first)`)
    }
  }
}
