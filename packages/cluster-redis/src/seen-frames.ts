/**
 * The last frame of forwards had from each node. A node sends a frame again when its PUBLISH failed, and a PUBLISH
 * that failed on a timeout or a closed connection may have reached Redis all the same (ioredis also resends what a
 * closed connection left unanswered): a frame at or below the last sequence number of the same sender's epoch was
 * had already. A sender's frames reach this node in order, so the last number is all it takes.
 */
export class SeenFrames {
  private readonly last = new Map<string, { epoch: number; seq: number }>()

  /** Whether node `from` sent this frame before; records it if not. */
  repeated(from: string, epoch: number, seq: number): boolean {
    const last = this.last.get(from)
    if (last === undefined || last.epoch !== epoch) {
      this.last.set(from, { epoch, seq })
      return false
    }
    if (seq <= last.seq) return true
    last.seq = seq
    return false
  }

  /** Node `from` is gone. */
  forget(from: string): void {
    this.last.delete(from)
  }
}
