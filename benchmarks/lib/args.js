// Command-line options of `pnpm bench` / `node benchmarks/run.js`.
import { parseArgs } from 'node:util'

export const USAGE = `Usage: pnpm bench [--quick] [--runs N] [--brokers wren,aedes,mosquitto] [--scenarios fan-in,latency,...]
                  [--out NAME] [--cpu-prof] [--realtime] [--from results/NAME.json]

  --quick       about a minute: one run of a subset of scenarios, smaller counts (writes results/quick.*)
  --runs N      runs per scenario and broker (default: 3 full, 1 quick); figures are medians
  --brokers     which brokers to compare (default: all installed): wren, aedes, mosquitto, and for the
                persistent scenario only wren-sqlite, wren-redis, aedes-redis, mosquitto-persist; only when
                named, for fan-in and fan-out: wren-cluster-1, wren-cluster-2 (the server's workers mode on Redis),
                wren-metrics (with the Prometheus metrics read every second and the store timed),
                and in every scenario wren-young4 (V8's young generation capped as \`pnpm start\` does) and
                wren-server (the \`wren\` command at its defaults, on the Node that runs the harness)
  --scenarios   variant id prefixes to run, e.g. fan-in,latency,payload-1KiB
  --out NAME    write results/NAME.md and NAME.json (default: latest, or quick with --quick)
  --cpu-prof    run Node brokers under --cpu-prof; profiles go to results/profiles/
                (summarise them with: node benchmarks/profile-summary.js results/profiles/*.cpuprofile)
  --realtime    run the latency scenarios' broker and generator in the real-time scheduling class (chrt -f,
                root only), so other work on a shared machine does not decide their percentiles
  --from FILE   do not measure: rewrite the report from a saved results JSON`

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      brokers: { type: 'string' },
      scenarios: { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      realtime: { type: 'boolean', default: false },
      from: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const list = (text) => (text ? text.split(',').map((s) => s.trim()).filter(Boolean) : null)
  const runs = values.runs === undefined ? null : Number(values.runs)
  if (runs !== null && !(Number.isInteger(runs) && runs > 0)) throw new Error(`--runs must be a positive integer`)
  return {
    help: values.help,
    profile: values.quick ? 'quick' : 'full',
    runs,
    brokers: list(values.brokers),
    scenarios: list(values.scenarios),
    out: values.out ?? (values.quick ? 'quick' : 'latest'),
    cpuProf: values['cpu-prof'],
    realtime: values.realtime,
    from: values.from ?? null,
  }
}
