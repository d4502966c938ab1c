/**
 * Every key the adapter touches, all under one prefix so tenants can share a Redis. Each family has its own
 * name before any client-chosen part, so no client id or topic can make two families collide.
 * docs/persistence.md lists the layout with each key's type.
 */
export class KeyLayout {
  readonly sessions: string
  readonly subscribers: string
  readonly retained: string
  readonly retainedTopics: string
  /** Payload bytes of the retained hash, created by the first `retainedBytes()`. */
  readonly retainedBytes: string
  readonly wills: string
  readonly sequence: string
  /** Message keys are built inside Lua scripts from this prefix and the message id. */
  readonly messagePrefix: string
  /** A client's queue keys are these prefixes and its client id: the batch script builds them so. */
  readonly queuePrefix: string
  readonly deliveryPrefix: string
  readonly inflightPrefix: string
  readonly queueBytesPrefix: string

  constructor(private readonly prefix: string) {
    this.sessions = `${prefix}sessions`
    this.subscribers = `${prefix}subscribers`
    this.retained = `${prefix}retained`
    this.retainedTopics = `${prefix}retained-topics`
    this.retainedBytes = `${prefix}retained-bytes`
    this.wills = `${prefix}wills`
    this.sequence = `${prefix}sequence`
    this.messagePrefix = `${prefix}message:`
    this.queuePrefix = `${prefix}queue:`
    this.deliveryPrefix = `${prefix}delivery:`
    this.inflightPrefix = `${prefix}inflight:`
    this.queueBytesPrefix = `${prefix}queue-bytes:`
  }

  message(messageId: string): string {
    return `${this.messagePrefix}${messageId}`
  }

  subscriptions(clientId: string): string {
    return `${this.prefix}subscriptions:${clientId}`
  }

  queue(clientId: string): string {
    return `${this.queuePrefix}${clientId}`
  }

  delivery(clientId: string): string {
    return `${this.deliveryPrefix}${clientId}`
  }

  /** Payload bytes of the client's queue, kept in step by every script that adds or drops an entry. */
  queueBytes(clientId: string): string {
    return `${this.queueBytesPrefix}${clientId}`
  }

  inflight(clientId: string): string {
    return `${this.inflightPrefix}${clientId}`
  }

  incoming(clientId: string): string {
    return `${this.prefix}incoming:${clientId}`
  }

  sessionData(clientId: string): string {
    return `${this.prefix}session-data:${clientId}`
  }
}
