/** A FIFO with O(1) push and shift: Array#shift is O(n) and queues here can hold thousands of entries. */
export class Deque<T> {
  // Created on first push: an idle client's session queue holds no empty array.
  private items: Array<T | undefined> | null = null
  private head = 0

  get length(): number {
    return this.items === null ? 0 : this.items.length - this.head
  }

  push(item: T): void {
    if (this.items === null) this.items = [item]
    else this.items.push(item)
  }

  peek(): T | undefined {
    return this.items?.[this.head]
  }

  shift(): T | undefined {
    const items = this.items
    if (items === null || this.head >= items.length) return undefined
    const item = items[this.head]
    items[this.head++] = undefined
    // Compact once the dead prefix dominates, so memory follows the live length.
    if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head)
      this.head = 0
    }
    return item
  }

  clear(): void {
    this.items = null
    this.head = 0
  }

  *[Symbol.iterator](): IterableIterator<T> {
    const items = this.items
    if (items === null) return
    for (let i = this.head; i < items.length; i++) yield items[i] as T
  }
}
