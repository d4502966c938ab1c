#!/usr/bin/env node
// `pnpm bench`: runs every scenario against every installed broker, brokers interleaved within each run,
// and writes the medians to results/<out>.md, results/<out>.json and SVG charts beside them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseOptions, USAGE } from './lib/args.js'
import { BROKERS, runsVariant } from './lib/brokers.js'
import { measure } from './lib/harness.js'
import { Progress } from './lib/progress.js'
import { renderCharts, renderMarkdown, summarize, withLatestResults } from './lib/report.js'
import { allVariants, defaultVariants, estimateMs, profile } from './lib/scenarios.js'

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
const performanceDoc = fileURLToPath(new URL('../docs/performance.md', import.meta.url))

function machine() {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
  }
}

const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' ')

function selectBrokers(names) {
  const unknown = (names ?? []).filter((n) => !BROKERS.some((b) => b.name === n))
  if (unknown.length) throw new Error(`unknown broker(s): ${unknown.join(', ')}`)
  const wanted = BROKERS.filter((b) => (names ? names.includes(b.name) : !b.onRequest))
  const skipped = wanted
    .filter((b) => !b.isInstalled())
    .map((b) => ({ name: b.name, label: b.label, reason: 'not installed', install: b.install }))
  return { brokers: wanted.filter((b) => b.isInstalled()), skipped }
}

function selectVariants(profileName, prefixes) {
  if (!prefixes) return defaultVariants(profileName)
  const variants = allVariants(profileName).filter((v) => prefixes.some((p) => v.id.startsWith(p)))
  if (variants.length === 0) throw new Error(`no scenario variant starts with ${prefixes.join(' or ')}`)
  return variants
}

/** Each run visits every variant, and within a variant every broker it has; the broker order rotates per run. */
function plan(variants, brokers, runs) {
  const steps = []
  for (let run = 1; run <= runs; run++) {
    for (const variant of variants) {
      const mine = brokers.filter((b) => runsVariant(b, variant))
      for (let i = 0; i < mine.length; i++) steps.push({ run, variant, broker: mine[(i + run - 1) % mine.length] })
    }
  }
  return steps
}

async function runBenchmarks(options) {
  const { brokers, skipped } = selectBrokers(options.brokers)
  for (const s of skipped) process.stderr.write(`${s.label}: skipped (${s.reason}); install with: ${s.install}\n`)
  if (brokers.length === 0) throw new Error('no broker to benchmark')
  const variants = selectVariants(options.profile, options.scenarios)
  const runs = options.runs ?? profile(options.profile).runs
  const nodeFlags = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${resultsDir}profiles`] : []

  const steps = plan(variants, brokers, runs)
  const progress = new Progress(steps.map((s) => estimateMs(s.variant.job)))
  const startLoad = loadAverage()
  const startedAt = Date.now()
  const measurements = []
  for (const step of steps) {
    progress.start(`${step.variant.id} · ${step.broker.label} · run ${step.run}/${runs}`)
    const record = await measure({ broker: step.broker, variant: step.variant, run: step.run, nodeFlags, realtime: options.realtime })
    measurements.push(record)
    progress.finish(record.error ? `${step.variant.id} · ${step.broker.label} · run ${step.run}: ${record.error}` : '')
  }
  progress.end(`done in ${Math.round((Date.now() - startedAt) / 1000)} s`)

  const meta = {
    date: new Date().toISOString(),
    profile: options.profile,
    runs,
    realtime: options.realtime,
    machine: machine(),
    node: process.version,
    versions: Object.fromEntries(brokers.map((b) => [b.name, b.version()])),
    loadAverage: {
      start: startLoad,
      end: loadAverage(),
      highest1m: Math.max(...measurements.map((m) => m.loadAverage1m)).toFixed(2),
    },
    durationSeconds: Math.round((Date.now() - startedAt) / 1000),
  }
  return { meta, skipped, variants, measurements }
}

/** Writes results/<out>.{md,json} and the charts; a full run's headline table also goes into the docs. */
function writeReport({ meta, skipped, variants, measurements }, out) {
  const brokers = BROKERS.filter((b) => b.name in meta.versions)
  const summary = summarize(measurements, variants, brokers.map((b) => b.name))
  const charts = renderCharts(summary, variants, brokers)
  mkdirSync(resultsDir, { recursive: true })
  const prefix = out === 'latest' ? '' : `${out}-`
  for (const chart of charts) {
    chart.file = `${prefix}${chart.file}`
    writeFileSync(`${resultsDir}${chart.file}`, chart.svg)
  }
  writeFileSync(`${resultsDir}${out}.json`, `${JSON.stringify({ meta, skipped, variants, summary, measurements }, null, 2)}\n`)
  writeFileSync(`${resultsDir}${out}.md`, renderMarkdown({ meta, summary, variants, brokers, skipped, charts }))
  process.stderr.write(`wrote ${resultsDir}${out}.md\n`)
  if (out === 'latest' && existsSync(performanceDoc)) {
    const doc = readFileSync(performanceDoc, 'utf8')
    writeFileSync(performanceDoc, withLatestResults(doc, { meta, summary, variants, brokers }))
  }
}

async function main() {
  const options = parseOptions(process.argv.slice(2))
  if (options.help) return void console.log(USAGE)
  const results = options.from ? JSON.parse(readFileSync(options.from, 'utf8')) : await runBenchmarks(options)
  writeReport(results, options.out)
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`)
  process.exitCode = 1
})
