// Reads a process's CPU time and memory from /proc, so the harness can charge each broker for what it used
// without instrumenting it (Mosquitto is a C binary; the Node brokers run unmodified).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond

function clockTicksPerSecond() {
  if (ticksPerSecond === undefined) {
    const out = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()
    ticksPerSecond = Number(out) || 100
  }
  return ticksPerSecond
}

/** User + system CPU time of `pid` so far, in microseconds (resolution: one clock tick, usually 10 ms). */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name in field 2 may contain spaces; the numeric fields start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1e6) / clockTicksPerSecond()
}

function statusKiB(pid, field) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
  return match ? Number(match[1]) : Number.NaN
}

/** Peak resident set size of `pid` over its lifetime, in KiB. */
export const peakRssKiB = (pid) => statusKiB(pid, 'VmHWM')

/** Current resident set size of `pid`, in KiB. */
export const rssKiB = (pid) => statusKiB(pid, 'VmRSS')

/** Soft limit on open files of `pid` ('self' for this process). */
export function openFileLimit(pid = 'self') {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8')
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  if (!match || match[1] === 'unlimited') return Number.POSITIVE_INFINITY
  return Number(match[1])
}
