import { Command } from 'ioredis'

/** Bytes a frame of forwards leaves free in front of itself for its PUBLISH command's header (channel included). */
export const PUBLISH_HEADROOM = 256
/** Bytes a frame of forwards leaves free after itself, for the command's closing CRLF. */
export const PUBLISH_TAILROOM = 2

/**
 * PUBLISH of a frame of forwards. It ignores ioredis' `commandTimeout`: Redis runs a connection's commands in order,
 * so a frame sent again on the same connection would only queue behind the first attempt and leave one more copy for
 * Redis to publish. Its answer is waited for instead, as long as the connection lives; if the connection closes,
 * ioredis sends it again on the next one, or rejects it once it gives up (and the frame is kept and sent again).
 */
export class ForwardPublish extends Command {
  constructor(channel: string, frame: Buffer) {
    super('publish', [channel, frame])
  }

  override setTimeout(): void {}
}

/**
 * PUBLISH of a frame written with room around it (`forwardsFrame`'s headroom): the command's header and closing
 * CRLF go into that room, and the frame's own memory is what reaches the socket. ioredis' PUBLISH would copy every
 * frame into a new buffer between them (`Command.toWritable`): a second copy of every payload on the sending node.
 * A header that does not fit (a channel name over about 200 bytes) takes ioredis' copy.
 */
export class FramePublish extends ForwardPublish {
  /** Below this, ioredis' own encoding costs less: the copy is small. */
  static readonly MIN_BYTES = 64 * 1024

  constructor(
    private readonly channel: string,
    private readonly frame: Buffer,
  ) {
    super(channel, frame)
  }

  override toWritable(socket: object): string | Buffer {
    const frame = this.frame
    const header = `*3\r\n$7\r\nPUBLISH\r\n$${Buffer.byteLength(this.channel)}\r\n${this.channel}\r\n$${frame.length}\r\n`
    const headerLength = Buffer.byteLength(header)
    if (headerLength > PUBLISH_HEADROOM) return super.toWritable(socket)
    const command = Buffer.from(frame.buffer, frame.byteOffset - headerLength, headerLength + frame.length + PUBLISH_TAILROOM)
    command.write(header, 0)
    command[command.length - 2] = 0x0d
    command[command.length - 1] = 0x0a
    return command
  }
}
