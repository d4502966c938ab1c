/**
 * Tasks serialised per client id, so two CONNECTs (or a CONNECT and an expiry) for one id never interleave. A
 * task with nobody ahead of it starts at once, at the cost of one promise to learn when it ends: the promise
 * chain this replaces cost four promises and as many closures on every connect.
 */
export class ClientLocks {
  /** Client ids with a task running, each with the starts of the tasks waiting behind it, in order. */
  private readonly queues = new Map<string, Array<() => void>>()

  /** Whether a task for `clientId` is running or waiting. */
  held(clientId: string): boolean {
    return this.queues.has(clientId)
  }

  run<T>(clientId: string, task: () => Promise<T>): Promise<T> {
    const waiting = this.queues.get(clientId)
    if (waiting === undefined) {
      this.queues.set(clientId, [])
      return this.start(clientId, task)
    }
    return new Promise<T>((resolve, reject) => {
      waiting.push(() => {
        this.start(clientId, task).then(resolve, reject)
      })
    })
  }

  private start<T>(clientId: string, task: () => Promise<T>): Promise<T> {
    let result: Promise<T>
    try {
      result = task()
    } catch (error) {
      result = Promise.reject(error)
    }
    const release = (): void => this.next(clientId)
    result.then(release, release)
    return result
  }

  private next(clientId: string): void {
    const waiting = this.queues.get(clientId) as Array<() => void>
    const following = waiting.shift()
    if (following === undefined) this.queues.delete(clientId)
    else following()
  }
}
