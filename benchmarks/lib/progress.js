// Progress on stderr: which broker, scenario and run is going, and an estimate of the time left that learns
// from the measurements already done (each step's estimate is scaled by how far off the finished ones were).

const formatSeconds = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000))
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

export class Progress {
  /** `estimatesMs[i]` is the first guess for step i. */
  constructor(estimatesMs, stream = process.stderr) {
    this.estimatesMs = estimatesMs
    this.stream = stream
    this.done = 0
    this.estimatedDoneMs = 0
    this.actualDoneMs = 0
    this.stepStartedAt = 0
  }

  remainingMs() {
    const scale = this.estimatedDoneMs > 0 ? this.actualDoneMs / this.estimatedDoneMs : 1
    let rest = 0
    for (let i = this.done; i < this.estimatesMs.length; i++) rest += this.estimatesMs[i]
    return rest * scale
  }

  start(label) {
    this.stepStartedAt = Date.now()
    const total = this.estimatesMs.length
    const counter = `[${String(this.done + 1).padStart(String(total).length)}/${total}]`
    const line = `${counter} ${label} · ~${formatSeconds(this.remainingMs())} left`
    if (this.stream.isTTY) this.stream.write(`\r\x1b[K${line}`)
    else this.stream.write(`${line}\n`)
  }

  finish(note) {
    this.estimatedDoneMs += this.estimatesMs[this.done]
    this.actualDoneMs += Date.now() - this.stepStartedAt
    this.done++
    if (note) this.stream.write(this.stream.isTTY ? `\r\x1b[K${note}\n` : `  ${note}\n`)
  }

  end(summary) {
    this.stream.write(this.stream.isTTY ? `\r\x1b[K${summary}\n` : `${summary}\n`)
  }
}
