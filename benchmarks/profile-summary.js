#!/usr/bin/env node
// Summarises V8 CPU profiles (from `pnpm bench --cpu-prof`): the functions with the most self time, mapped
// back to TypeScript sources through the dist's source maps when they exist. Usage:
//   node benchmarks/profile-summary.js [--top N] file.cpuprofile...
import { existsSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const sourceMaps = new Map()

function sourceMapFor(url) {
  if (!sourceMaps.has(url)) {
    const path = url.startsWith('file://') ? fileURLToPath(url) : url
    sourceMaps.set(url, existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : null)
  }
  return sourceMaps.get(url)
}

function location({ url, lineNumber, columnNumber }) {
  if (!url) return ''
  const entry = sourceMapFor(url)?.findEntry(lineNumber, columnNumber)
  if (entry?.originalSource) {
    const source = fileURLToPath(new URL(entry.originalSource, url.startsWith('file://') ? url : `file://${url}`))
    return `${relative(repoRoot, source)}:${entry.originalLine + 1}`
  }
  const path = url.startsWith('file://') ? relative(repoRoot, fileURLToPath(url)) : url
  return `${path}:${lineNumber + 1}`
}

function summarise(file, top) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map()
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const parentOf = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
  const keyOf = new Map(
    profile.nodes.map((n) => [n.id, `${n.callFrame.functionName || '(anonymous)'} ${location(n.callFrame)}`]),
  )
  const self = new Map()
  const total = new Map()
  let busyUs = 0
  for (const [id, us] of selfUs) {
    if (byId.get(id).callFrame.functionName === '(idle)') continue
    busyUs += us
    self.set(keyOf.get(id), (self.get(keyOf.get(id)) ?? 0) + us)
    // Each function on the stack once, however often it recurses.
    const onStack = new Set()
    for (let at = id; at !== undefined; at = parentOf.get(at)) onStack.add(keyOf.get(at))
    for (const key of onStack) total.set(key, (total.get(key) ?? 0) + us)
  }
  const pct = (us) => `${((us / busyUs) * 100).toFixed(1).padStart(6)}%`
  console.log(`${relative(process.cwd(), file)}: ${(busyUs / 1000).toFixed(0)} ms busy (idle excluded)`)
  console.log('  self ms   self %  total %  function  location')
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(1).padStart(8)}  ${pct(us)}  ${pct(total.get(key))}  ${key}`)
  }
}

if (positionals.length === 0) {
  console.error('usage: node benchmarks/profile-summary.js [--top N] file.cpuprofile...')
  process.exitCode = 1
}
for (const file of positionals) summarise(file, Number(values.top))
