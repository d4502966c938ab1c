/** One sample of a Prometheus text exposition: its value, or undefined when the series is absent. */
export function sample(text: string, name: string, labels: Record<string, string | number> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`)
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const present = (match[2] ?? '').split(',').filter(Boolean)
    if (wanted.every((label) => present.includes(label))) return Number(match[3])
  }
  return undefined
}
