// The measured window of a scenario: wall time, this generator's CPU and the broker's CPU, all sampled at the
// same two instants so "broker CPU per message" and "generator busy %" describe the same stretch of work.
import { cpuMicros } from '../lib/proc-stats.js'

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6

/** `servicePid`, when given, is a process the broker depends on (the cluster's redis-server): charged separately. */
export function openWindow(brokerPid, servicePid) {
  const serviceCpuUs = servicePid === undefined ? undefined : cpuMicros(servicePid)
  return { startMs: nowMs(), generatorCpu: process.cpuUsage(), brokerCpuUs: cpuMicros(brokerPid), brokerPid, servicePid, serviceCpuUs }
}

/** Closes the window now; `workEndMs` (default now) is when the measured work itself finished. */
export function closeWindow(window, workEndMs = nowMs()) {
  const endMs = nowMs()
  const generator = process.cpuUsage(window.generatorCpu)
  const wallMs = Math.max(endMs - window.startMs, 0.001)
  return {
    durationMs: Math.max(workEndMs - window.startMs, 0.001),
    generatorCpuPct: ((generator.user + generator.system) / 1000 / wallMs) * 100,
    brokerCpuUs: cpuMicros(window.brokerPid) - window.brokerCpuUs,
    brokerCpuPct: ((cpuMicros(window.brokerPid) - window.brokerCpuUs) / 1000 / wallMs) * 100,
    serviceCpuUs: window.servicePid === undefined ? undefined : cpuMicros(window.servicePid) - window.serviceCpuUs,
  }
}

/** Resolves 'done' once `isDone()` holds (checked every `everyMs`), or 'timeout' at `deadlineMs`. */
export function waitUntil(isDone, deadlineMs, everyMs = 20) {
  return new Promise((resolve) => {
    const check = () => {
      if (isDone()) return resolve('done')
      if (nowMs() >= deadlineMs) return resolve('timeout')
      setTimeout(check, everyMs)
    }
    check()
  })
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
