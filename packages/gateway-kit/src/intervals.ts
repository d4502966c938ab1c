/** A gateway's periodic work (sweeps, `$SYS`, advertisements): none keeps the process alive, and all stop at once. */
export class Intervals {
  private readonly timers: NodeJS.Timeout[] = []

  every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms)
    timer.unref()
    this.timers.push(timer)
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer)
    this.timers.length = 0
  }
}
