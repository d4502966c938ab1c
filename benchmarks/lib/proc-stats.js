// Reads a process's CPU time and memory from /proc, so the harness can charge each broker for what it used
// without instrumenting it (Mosquitto is a C binary; the Node brokers run unmodified). A broker is its process
// and every descendant: the server's workers mode is a primary with one child per worker.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let ticksPerSecond

function clockTicksPerSecond() {
  if (ticksPerSecond === undefined) {
    const out = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()
    ticksPerSecond = Number(out) || 100
  }
  return ticksPerSecond
}

/** The numeric fields of /proc/<pid>/stat from field 3 (state) on, or null once the process is gone. */
function statFields(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name in field 2 may contain spaces; the numeric fields start after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}

/**
 * `pid` and all its descendants, found by parent pid in /proc/<n>/stat (unlike /proc/<pid>/task/<tid>/children,
 * this needs no optional kernel feature). Cheap enough: the harness samples at a window's two ends.
 */
export function processTree(pid) {
  const parentOf = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const fields = statFields(entry)
    if (fields) parentOf.set(Number(entry), Number(fields[1]))
  }
  const tree = [Number(pid)]
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child)
  }
  return tree
}

/**
 * User + system CPU time of `pid` and its live descendants so far, in microseconds (resolution: one clock tick,
 * usually 10 ms). A descendant that exits inside a window takes its time with it, so workers must outlive it.
 */
export function cpuMicros(pid) {
  let ticks = 0
  for (const member of processTree(pid)) {
    const fields = statFields(member)
    if (fields) ticks += Number(fields[11]) + Number(fields[12])
  }
  return (ticks * 1e6) / clockTicksPerSecond()
}

function statusKiB(pid, field) {
  let total = 0
  for (const member of processTree(pid)) {
    let status
    try {
      status = readFileSync(`/proc/${member}/status`, 'utf8')
    } catch {
      continue
    }
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    total += match ? Number(match[1]) : Number.NaN
  }
  return total
}

/**
 * Peak resident set size of `pid` over its lifetime, plus each live descendant's, in KiB. For a process tree
 * this is the sum of each member's own peak, an upper bound of the tree's peak at any one moment.
 */
export const peakRssKiB = (pid) => statusKiB(pid, 'VmHWM')

/** Current resident set size of `pid` and its live descendants, in KiB. */
export const rssKiB = (pid) => statusKiB(pid, 'VmRSS')

/** Soft limit on open files of `pid` ('self' for this process). */
export function openFileLimit(pid = 'self') {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8')
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  if (!match || match[1] === 'unlimited') return Number.POSITIVE_INFINITY
  return Number(match[1])
}

/**
 * Connections the kernel could not queue for accept because a listener's backlog was full (TcpExt ListenOverflows,
 * for the whole machine): each one is a client whose handshake is retried after a timeout of a second or more.
 */
export function listenOverflows() {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
  const names = lines.find((line) => line.startsWith('TcpExt:'))?.split(' ')
  const values = lines.findLast((line) => line.startsWith('TcpExt:'))?.split(' ')
  const at = names?.indexOf('ListenOverflows') ?? -1
  return at > 0 && values ? Number(values[at]) : Number.NaN
}
