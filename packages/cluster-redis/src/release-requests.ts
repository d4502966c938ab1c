import type { PublishFrame } from './forwarding.js'
import { releaseFrame } from './frames.js'

/**
 * The hand-over of a client between nodes: the node that claimed it asks the previous owner to let it go and waits
 * for the answer, or for `leaseMs` when none comes.
 */
export class ReleaseRequests {
  private readonly waiting = new Map<number, () => void>()
  private seq = 0

  constructor(
    private readonly nodeId: string,
    private readonly leaseMs: number,
    private readonly publish: PublishFrame,
    private readonly exactReceivers: boolean,
    private readonly failed: (error: unknown, action: string) => void,
  ) {}

  /** Asks `owner` to let `clientId` go; resolves on its answer, or after `leaseMs` if it never comes. */
  request(owner: string, clientId: string): Promise<void> {
    const request = ++this.seq
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer)
        this.waiting.delete(request)
        resolve()
      }
      const timer = setTimeout(finish, this.leaseMs)
      this.waiting.set(request, finish)
      this.publish(owner, releaseFrame({ c: clientId, r: request, n: this.nodeId }))
        .then((receivers) => {
          // Nobody listens on that node's channel: it is gone, and waiting would only delay the client.
          if (receivers === 0 && this.exactReceivers) finish()
        })
        .catch((error: unknown) => {
          this.failed(error, 'request release')
          finish()
        })
    })
  }

  /** The previous owner answered request `request`. */
  answered(request: number): void {
    this.waiting.get(request)?.()
  }

  /** Stopping: nobody waits any longer. */
  finishAll(): void {
    for (const finish of [...this.waiting.values()]) finish()
  }
}
