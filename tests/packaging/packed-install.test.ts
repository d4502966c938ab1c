/**
 * What a user outside the monorepo gets: every package packed as it would be published, checked by publint and
 * arethetypeswrong, installed with npm into a fresh project (the tarballs, third-party dependencies from the
 * registry), compiled against with strict TypeScript as ES modules and as CommonJS, run, and spoken to over MQTT.
 */
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { checkPackage, createPackageFromTarballData, type ResolutionKind } from '@arethetypeswrong/core'
import { problemAffectsResolutionKind } from '@arethetypeswrong/core/problems'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient } from '../../packages/core/test/helpers/clients.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
/**
 * The packages an app embedding the broker installs: the core, the server and the server's own @wren
 * dependencies (the optional adapters, peers of the server, need native builds or a Redis).
 */
const serverDependencies = (JSON.parse(readFileSync(join(root, 'packages', 'server', 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>
}).dependencies
const EMBEDDING = ['@wren/core', '@wren/server', ...Object.keys(serverDependencies).filter((name) => name.startsWith('@wren/') && name !== '@wren/core')]

let dir: string
let tarballs: Map<string, string>

const tarballName = (pkg: string): string => `${pkg.replace('@', '').replace('/', '-')}-`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wren-packed-'))
  const { stdout } = await run(process.execPath, [join(root, 'scripts', 'pack-all.mjs'), join(dir, 'packs')])
  const files = stdout.trim().split('\n')
  tarballs = new Map(files.map((file) => [basename(file), file]))
}, 120_000)

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function tarballOf(pkg: string): string {
  const found = [...tarballs].find(([name]) => name.startsWith(tarballName(pkg)))
  if (!found) throw new Error(`no tarball for ${pkg} in ${[...tarballs.keys()].join(', ')}`)
  return found[1]
}

describe('the packed packages', () => {
  it('are one tarball per package', () => {
    const packages = readdirSync(join(root, 'packages')).map(
      (name) => (JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as { name: string }).name,
    )
    expect(packages.map((pkg) => basename(tarballOf(pkg))).sort()).toEqual([...tarballs.keys()].sort())
  })

  it('pass publint (warnings count as errors) with no workspace: range left', async () => {
    const problems: string[] = []
    for (const [name, file] of tarballs) {
      const tarball = readFileSync(file)
      const bytes = tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) as ArrayBuffer
      const { messages, pkg } = await publint({ pack: { tarball: bytes }, strict: true, level: 'warning' })
      for (const message of messages) problems.push(`${name}: ${formatMessage(message, pkg) ?? message.code}`)
      const ranges = JSON.stringify([pkg.dependencies, pkg.peerDependencies])
      if (ranges.includes('workspace:')) problems.push(`${name}: workspace: range in ${ranges}`)
    }
    expect(problems).toEqual([])
  }, 60_000)

  it('have types that resolve for ESM and CJS consumers (arethetypeswrong)', async () => {
    const problems: string[] = []
    for (const [name, file] of tarballs) {
      const analysis = await checkPackage(createPackageFromTarballData(new Uint8Array(readFileSync(file))))
      if (analysis.types === false) {
        problems.push(`${name}: no types`)
        continue
      }
      // The persistence suite runs inside vitest, which loads ES modules: it ships no CommonJS build.
      const ignored: ResolutionKind[] = name.startsWith(tarballName('@wren/persistence-test-suite')) ? ['node10', 'node16-cjs'] : []
      for (const problem of analysis.problems) {
        if (ignored.some((kind) => problemAffectsResolutionKind(problem, kind, analysis))) continue
        problems.push(`${name}: ${problem.kind} ${JSON.stringify(problem)}`)
      }
    }
    expect(problems).toEqual([])
  }, 60_000)
})

describe('an app outside the monorepo', () => {
  let app: string

  beforeAll(async () => {
    app = join(dir, 'app')
    cpSync(fileURLToPath(new URL('./app', import.meta.url)), app, { recursive: true })
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'wren-user-app', version: '1.0.0', private: true }))
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '@types/node@20', ...EMBEDDING.map(tarballOf)], { cwd: app })
  }, 180_000)

  it('installs the tarballs without anything from the monorepo', () => {
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', '@wren', 'server', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
    expect(installed.dependencies['@wren/core']).toMatch(/^\^\d+\.\d+\.\d+$/)
    expect(readdirSync(join(app, 'node_modules', '@wren')).sort()).toEqual(EMBEDDING.map((name) => name.slice('@wren/'.length)).sort())
  })

  it('is the app docs/getting-started.md walks a user through', () => {
    const guide = readFileSync(join(root, 'docs', 'getting-started.md'), 'utf8')
    for (const file of ['esm.mts', 'tsconfig.json']) expect(guide).toContain(readFileSync(join(app, file), 'utf8'))
    for (const pkg of EMBEDDING) expect(guide).toContain(`packs/${basename(tarballOf(pkg))}`)
  })

  it('compiles with strict TypeScript (declarations checked too) as ESM and CJS', async () => {
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app })
    expect(readdirSync(join(app, 'dist')).sort()).toEqual(['cjs.cjs', 'esm.mjs'])
  }, 120_000)

  it.each([['esm.mjs', 'esm'], ['cjs.cjs', 'cjs']])('runs %s: embeds the broker and exchanges messages with an MQTT client', async (file, flavour) => {
    const child = spawn(process.execPath, [join(app, 'dist', file)], { cwd: app, stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = once(child, 'exit')
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
      const { port } = JSON.parse(line) as { port: number }
      const { client, inbox } = await connectClient(`mqtt://127.0.0.1:${port}`)
      await client.subscribeAsync('replies/+', { qos: 1 })
      await client.publishAsync('greetings/alice', 'alice', { qos: 1 })
      const reply = await inbox.next(undefined, 10_000, 'the reply')
      expect({ topic: reply.topic, payload: reply.payload.toString() }).toEqual({ topic: 'replies/alice', payload: `${flavour}: hello alice` })
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toEqual([0, null])
  }, 120_000)
})
