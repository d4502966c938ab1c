// Turns raw measurements into medians per (scenario variant, broker) and renders them as markdown tables
// with Wren's ratio to each peer, plus the SVG charts the markdown links to.
import { runsVariant } from './brokers.js'
import { FIGURES } from './scenarios.js'
import { median } from './stats.js'
import { barChart, formatNumber } from './svg-chart.js'

const HEADLINE = { latency: 'p99Us' }

// The brokers every scenario runs: the headline table's columns. The others (a store per broker) only take
// part in some scenarios and get a table of their own there.
const baseBrokers = (brokers) => brokers.filter((b) => !b.scenarios)
const brokersOf = (variant, brokers) => brokers.filter((b) => runsVariant(b, variant))
// A floor (not a broker: what Node itself costs) sits in the scenario's own table beside the brokers.
const hasStoreVariants = (variant, brokers) => brokersOf(variant, brokers).some((b) => b.scenarios && !b.floor)

// The references the per-store ratios are taken against, when they ran (Wren 1 worker: for the cluster rows).
const STORE_REFERENCES = ['wren', 'aedes', 'aedes-redis', 'wren-cluster-1']
const STORE_RATIO_FIGURES = { msgsPerSec: 'msgs/s', brokerCpuUsPerMsg: 'CPU µs/msg', backlogDrainPerSec: 'drained msgs/s' }

/** A figure's median over the runs, or the aggregate (e.g. the worst run) its FIGURES entry names. */
function acrossRuns(key, measurements) {
  const { of, across } = FIGURES[key]
  if (!across) return median(measurements.map((m) => m[key]))
  const values = measurements.map((m) => m[of]).filter(Number.isFinite)
  return values.length > 0 ? across(...values) : Number.NaN
}

/** `{ [variantId]: { [broker]: { runs, errors, figures: { [key]: median } } } }` */
export function summarize(measurements, variants, brokerNames) {
  const summary = {}
  for (const variant of variants) {
    summary[variant.id] = {}
    for (const broker of brokerNames) {
      const mine = measurements.filter((m) => m.variant === variant.id && m.broker === broker)
      const ok = mine.filter((m) => !m.error)
      const figures = {}
      for (const key of variant.figures) figures[key] = acrossRuns(key, ok)
      summary[variant.id][broker] = {
        runs: ok.length,
        errors: mine.filter((m) => m.error).map((m) => m.error),
        timedOutRuns: ok.filter((m) => m.timedOut).map((m) => m.run),
        figures,
      }
    }
  }
  return summary
}

const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${formatNumber(a / b, 2)}×` : '–')

const betterMark = (figure) => (figure.better === 'higher' ? ' ↑' : figure.better === 'lower' ? ' ↓' : '')

function table(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`
  return [line(headers), line(headers.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n')
}

function comparisonColumns(brokers) {
  const wren = brokers.find((b) => b.name === 'wren')
  return wren ? brokers.filter((b) => b !== wren).map((peer) => ({ wren, peer })) : []
}

export function chartFile(variantOrScenario) {
  return `${variantOrScenario}.svg`
}

/** Charts: one per scenario (its variants as groups) plus the latency percentiles. */
export function renderCharts(summary, variants, brokers) {
  const seriesOf = (list) => list.map((b) => ({ name: b.name, label: b.label }))
  const series = seriesOf(baseBrokers(brokers))
  const charts = []
  const scenarios = [...new Set(variants.filter((v) => v.chart).map((v) => v.scenario))]
  for (const scenario of scenarios) {
    const mine = variants.filter((v) => v.scenario === scenario && v.chart)
    const taking = brokersOf(mine[0], brokers)
    // A scenario with one variant and several rates (scenario 7) charts each rate as a group.
    const groups = mine[0].chartFigures
      ? mine[0].chartFigures.map((key) => ({ label: FIGURES[key].label, variant: mine[0], key }))
      : mine.map((v) => ({ label: v.id, variant: v, key: v.chart }))
    const unit = mine[0].chartFigures ? 'msgs/s' : FIGURES[mine[0].chart].label
    charts.push({
      scenario,
      file: chartFile(`throughput-${scenario}`),
      svg: barChart({
        title: `${scenario}: ${unit} (median)`,
        unit,
        series: seriesOf(taking),
        log: mine[0].chartLog ?? false,
        groups: groups.map(({ label, variant, key }) => ({
          label,
          values: Object.fromEntries(taking.map((b) => [b.name, summary[variant.id][b.name].figures[key]])),
        })),
      }),
    })
  }
  for (const latency of variants.filter((v) => v.scenario === 'latency')) {
    charts.push({
      scenario: 'latency',
      file: chartFile(latency.id),
      svg: barChart({
        title: `latency, QoS 1 one-to-one at ${latency.job.ratePerSec.toLocaleString('en')} msgs/s (median of runs)`,
        unit: 'µs, publish to delivery',
        series,
        log: true,
        groups: ['p50Us', 'p99Us', 'p999Us', 'maxUs'].map((key) => ({
          label: FIGURES[key].label.replace('latency ', ''),
          values: Object.fromEntries(series.map((b) => [b.name, summary[latency.id][b.name].figures[key]])),
        })),
      }),
    })
  }
  return charts
}

function scenarioSection(variant, summary, allBrokers) {
  if (hasStoreVariants(variant, allBrokers)) return storeSection(variant, summary, allBrokers)
  const brokers = brokersOf(variant, allBrokers)
  const pairs = comparisonColumns(brokers)
  const headers = ['figure', ...brokers.map((b) => b.label), ...pairs.map(({ peer }) => `Wren/${peer.label}`)]
  const rows = variant.figures.map((key) => {
    const figure = FIGURES[key]
    const values = brokers.map((b) => summary[variant.id][b.name].figures[key])
    return [
      `${figure.label}${betterMark(figure)}`,
      ...values.map((v) => formatNumber(v, figure.digits)),
      ...pairs.map(({ wren, peer }) =>
        figure.better
          ? ratio(summary[variant.id][wren.name].figures[key], summary[variant.id][peer.name].figures[key])
          : '',
      ),
    ]
  })
  return [`### ${variant.title}`, '', table(headers, rows), ...failureNotes(variant, summary, brokers)].join('\n')
}

function failureNotes(variant, summary, brokers) {
  const notes = brokers.flatMap((b) => {
    const { errors, timedOutRuns } = summary[variant.id][b.name]
    return [
      ...errors.map((e) => `- ${b.label} failed a run: ${e.replace(/\s+/g, ' ').slice(0, 300)}`),
      ...(timedOutRuns.length ? [`- ${b.label} hit the time bound in run(s) ${timedOutRuns.join(', ')}`] : []),
    ]
  })
  return notes.length ? ['', ...notes] : []
}

/** Ratios of each broker's figures to the references' (Wren and Aedes in memory, Aedes on Redis). */
function storeRatioTable(variant, summary, brokers) {
  const references = STORE_REFERENCES.map((name) => brokers.find((b) => b.name === name)).filter(Boolean)
  const columns = Object.keys(STORE_RATIO_FIGURES)
    .filter((key) => variant.figures.includes(key))
    .flatMap((key) => references.map((ref) => ({ key, ref })))
  // A base broker's label does not name its store; a store variant's does.
  const name = (ref) => (ref.scenarios ? ref.label : `${ref.label} ${ref.store}`)
  const headers = ['broker', 'store', ...columns.map(({ key, ref }) => `${STORE_RATIO_FIGURES[key]} ÷ ${name(ref)}`)]
  const rows = brokers.map((b) => [
    b.label,
    b.store,
    ...columns.map(({ key, ref }) => ratio(summary[variant.id][b.name].figures[key], summary[variant.id][ref.name].figures[key])),
  ])
  return table(headers, rows)
}

/** A scenario run by one broker per store: brokers as rows, figures as columns, then the ratios. */
function storeSection(variant, summary, allBrokers) {
  const brokers = brokersOf(variant, allBrokers)
  const headers = ['broker', 'store', ...variant.figures.map((key) => `${FIGURES[key].label}${betterMark(FIGURES[key])}`)]
  const rows = brokers.map((b) => [
    b.label,
    b.store,
    ...variant.figures.map((key) => formatNumber(summary[variant.id][b.name].figures[key], FIGURES[key].digits)),
  ])
  return [
    `### ${variant.title}`,
    '',
    table(headers, rows),
    '',
    'Ratios (above 1 is better for msgs/s, below 1 for CPU µs/msg):',
    '',
    storeRatioTable(variant, summary, brokers),
    ...failureNotes(variant, summary, brokers),
  ].join('\n')
}

function headlineTable(summary, variants, allBrokers) {
  const brokers = baseBrokers(allBrokers)
  const pairs = comparisonColumns(brokers)
  const rows = variants.map((variant) => {
    const key = HEADLINE[variant.scenario] ?? variant.figures[0]
    const figure = FIGURES[key]
    const cell = (b) => summary[variant.id][b.name].figures[key]
    // A figure from a run that lost messages is not comparable to a lossless one: say so beside it.
    const lossNote = (b) => {
      const loss = summary[variant.id][b.name].figures.lossPct
      return loss > 0.005 ? ` (${formatNumber(loss, loss < 1 ? 2 : 0)}% lost)` : ''
    }
    return [
      variant.id,
      `${figure.label}${betterMark(figure)}`,
      ...brokers.map((b) => `${formatNumber(cell(b), figure.digits)}${lossNote(b)}`),
      ...pairs.map(({ wren, peer }) => ratio(cell(wren), cell(peer))),
      ...brokers.map((b) => {
        const figures = summary[variant.id][b.name].figures
        return formatNumber(figures.brokerCpuUsPerMsg ?? figures.brokerCpuUsPerConnect, 2)
      }),
    ]
  })
  return table(
    [
      'variant',
      'headline figure',
      ...brokers.map((b) => b.label),
      ...pairs.map(({ peer }) => `Wren/${peer.label}`),
      ...brokers.map((b) => `${b.label} CPU µs/msg*`),
    ],
    rows,
  )
}

const CPU_FOOTNOTE = '\\* broker CPU time per delivered message (per accepted connection for the connections scenario).'
const RESULTS_START = '<!-- latest-results:start -->'
const RESULTS_END = '<!-- latest-results:end -->'

/** Scenario 7's figures per store for the docs: the headline figures and their ratios. */
function storeExcerpt(summary, variants, brokers) {
  return variants
    .filter((variant) => hasStoreVariants(variant, brokers))
    .flatMap((variant) => {
      const mine = brokersOf(variant, brokers)
      const keys = ['msgsPerSec', 'brokerCpuUsPerMsg', 'backlogDrainPerSec']
      const figures = table(
        ['broker', 'store', ...keys.map((key) => `${FIGURES[key].label}${betterMark(FIGURES[key])}`)],
        mine.map((b) => [
          b.label,
          b.store,
          ...keys.map((key) => formatNumber(summary[variant.id][b.name].figures[key], FIGURES[key].digits)),
        ]),
      )
      return ['', `**${variant.title}**, per store:`, '', figures, '', storeRatioTable(variant, summary, mine)]
    })
}

/** `doc` with the text between its latest-results markers replaced by this run's headline table. */
export function withLatestResults(doc, { meta, summary, variants, brokers }) {
  const start = doc.indexOf(RESULTS_START)
  const end = doc.indexOf(RESULTS_END)
  if (start < 0 || end < start) return doc
  const excerpt = [
    '',
    `Run of ${meta.date.slice(0, 10)} (${meta.runs} runs, medians; ${meta.machine.cores} cores, Node ${meta.node}, ` +
      `${brokers.map((b) => `${b.label} ${meta.versions[b.name]}`).join(', ')}; 1-min load average up to ` +
      `${meta.loadAverage.highest1m}). Full tables and charts: [benchmarks/results/latest.md](../benchmarks/results/latest.md).`,
    '',
    headlineTable(summary, variants, brokers),
    '',
    CPU_FOOTNOTE,
    ...storeExcerpt(summary, variants, brokers),
    '',
  ].join('\n')
  return `${doc.slice(0, start + RESULTS_START.length)}${excerpt}${doc.slice(end)}`
}

export function renderMarkdown({ meta, summary, variants, brokers, skipped, charts }) {
  const chartFor = (scenario) => charts.filter((c) => c.scenario === scenario)
  const lines = [
    '# Wren benchmark results',
    '',
    `Generated by \`pnpm bench${meta.profile === 'quick' ? ' --quick' : ''}\` on ${meta.date}. Profile **${meta.profile}**, ` +
      `${meta.runs} run(s) per scenario and broker, brokers interleaved within each run; every figure is the median ` +
      'of the runs. Method and caveats: [docs/performance.md](../../docs/performance.md).',
    '',
    `- Machine: ${meta.machine.cpu}, ${meta.machine.cores} cores, ${meta.machine.memoryGiB} GiB, ${meta.machine.os}; ` +
      `load average (1, 5, 15 min) at start ${meta.loadAverage.start}, at end ${meta.loadAverage.end}, highest 1-min ` +
      `at a measurement's start ${meta.loadAverage.highest1m} (the harness itself keeps about 1 to 2 cores busy)`,
    ...(meta.realtime ? ["- `--realtime`: the latency scenarios' broker and generator ran in the real-time scheduling class (chrt -f 10)"] : []),
    `- Node ${meta.node}; ${brokers.map((b) => `${b.label} ${meta.versions[b.name]}`).join(', ')}`,
    ...skipped.map((s) => `- ${s.label} skipped: ${s.reason}. Install with \`${s.install}\``),
    '',
    '## Headline figures',
    '',
    'Throughput is delivered messages per second (from the first publish to the last delivery); latency is p99.',
    'Ratios are Wren divided by the peer: above 1 is better for ↑ figures, below 1 is better for ↓ figures.',
    '',
    headlineTable(summary, variants, brokers),
    '',
    CPU_FOOTNOTE,
    '',
    '## Per scenario',
    '',
    '"broker CPU µs/msg" is the broker process\'s user+system CPU time over the measured window divided by the',
    'messages delivered; "generator CPU %" is the load generator\'s own CPU use over the same window (near 100 %',
    'means the generator, not the broker, was the limit).',
  ]
  let lastScenario = ''
  for (const variant of variants) {
    if (variant.scenario !== lastScenario && lastScenario) {
      for (const chart of chartFor(lastScenario)) lines.push('', `![${chart.scenario}](${chart.file})`)
    }
    lastScenario = variant.scenario
    lines.push('', scenarioSection(variant, summary, brokers))
  }
  for (const chart of chartFor(lastScenario)) lines.push('', `![${chart.scenario}](${chart.file})`)
  return `${lines.join('\n')}\n`
}
