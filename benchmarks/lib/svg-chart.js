// Horizontal grouped bar charts as standalone SVG: one group per scenario variant (or percentile), one bar
// per broker, the value printed at the end of each bar. No dependencies, so the results folder renders on
// any Git host.

const PALETTE = ['#e07b39', '#4c78a8', '#54a24b', '#b279a2', '#9d755d', '#eeca3b', '#72b7b2', '#ff9da6']
const WIDTH = 760
const LABEL_WIDTH = 170
const VALUE_WIDTH = 90
const BAR_HEIGHT = 16
const BAR_GAP = 3
const GROUP_GAP = 14
const LEGEND_COLUMNS = 5
const LEGEND_ROW = 18
const TOP = 58
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'

const escapeXml = (text) =>
  String(text).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c])

export function formatNumber(value, digits = 0) {
  if (!Number.isFinite(value)) return 'n/a'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function niceCeiling(value) {
  if (!(value > 0)) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  return [1, 2, 2.5, 5, 10].map((step) => step * magnitude).find((candidate) => candidate >= value)
}

function scaleFor(values, log) {
  const finite = values.filter((v) => Number.isFinite(v) && v > 0)
  const plotWidth = WIDTH - LABEL_WIDTH - VALUE_WIDTH
  if (log) {
    const low = finite.length ? 10 ** Math.floor(Math.log10(Math.min(...finite))) : 1
    const high = Math.max(low * 10, finite.length ? 10 ** Math.ceil(Math.log10(Math.max(...finite))) : 10)
    const span = Math.log10(high) - Math.log10(low)
    const ticks = []
    for (let t = low; t <= high; t *= 10) ticks.push(t)
    return { x: (v) => (v > 0 ? ((Math.log10(Math.max(v, low)) - Math.log10(low)) / span) * plotWidth : 0), ticks }
  }
  const step = niceCeiling(Math.max(...finite, 0) / 4)
  const max = Math.max(step, Math.ceil(Math.max(...finite, 0) / step) * step)
  const ticks = []
  for (let t = 0; t <= max; t += step) ticks.push(t)
  return { x: (v) => (Math.max(v, 0) / max) * plotWidth, ticks }
}

/**
 * `groups`: [{ label, values: { [seriesName]: number } }]; `series`: [{ name, label }]. Missing values are
 * drawn as "n/a" without a bar.
 */
export function barChart({ title, unit, groups, series, log = false, digits = 0 }) {
  const scale = scaleFor(groups.flatMap((g) => series.map((s) => g.values[s.name])), log)
  const groupHeight = series.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
  const plotHeight = groups.length * (groupHeight + GROUP_GAP)
  const top = TOP + (Math.ceil(series.length / LEGEND_COLUMNS) - 1) * LEGEND_ROW
  const height = top + plotHeight + 30
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT} font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
  ]
  series.forEach((s, i) => {
    const x = 12 + (i % LEGEND_COLUMNS) * 130
    const y = 34 + Math.floor(i / LEGEND_COLUMNS) * LEGEND_ROW
    parts.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`)
    parts.push(`<text x="${x + 17}" y="${y + 10}">${escapeXml(s.label)}</text>`)
  })
  for (const tick of scale.ticks) {
    const x = LABEL_WIDTH + scale.x(tick)
    parts.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + plotHeight - GROUP_GAP + 4}" stroke="#e3e3e3"/>`)
    parts.push(
      `<text x="${x}" y="${top + plotHeight + 8}" text-anchor="middle" fill="#666">${escapeXml(formatNumber(tick))}</text>`,
    )
  }
  parts.push(
    `<text x="${LABEL_WIDTH}" y="${height - 6}" fill="#666">${escapeXml(unit)}${log ? ' (log scale)' : ''}</text>`,
  )
  groups.forEach((group, g) => {
    const y0 = top + g * (groupHeight + GROUP_GAP)
    parts.push(
      `<text x="${LABEL_WIDTH - 8}" y="${y0 + groupHeight / 2 + 4}" text-anchor="end">${escapeXml(group.label)}</text>`,
    )
    series.forEach((s, i) => {
      const value = group.values[s.name]
      const y = y0 + i * (BAR_HEIGHT + BAR_GAP)
      const width = Number.isFinite(value) ? scale.x(value) : 0
      parts.push(
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${PALETTE[i % PALETTE.length]}"/>`,
      )
      parts.push(
        `<text x="${(LABEL_WIDTH + width + 4).toFixed(1)}" y="${y + BAR_HEIGHT - 4}">${escapeXml(formatNumber(value, digits))}</text>`,
      )
    })
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
