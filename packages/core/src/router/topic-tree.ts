/**
 * A trie of topic filters: each level of a filter is a node; values hang off the node where their filter ends,
 * keyed (one per key per filter) so that a client re-subscribing replaces its entry.
 */

class TreeNode<T> {
  children: Map<string, TreeNode<T>> | null = null
  values: Map<string, T> | null = null
}

export interface TreeEntry<T> {
  filter: string
  key: string
  value: T
}

export class TopicTree<T> {
  private readonly root = new TreeNode<T>()
  private count = 0

  get size(): number {
    return this.count
  }

  /** Adds or replaces the value for (filter, key); returns true when it is new. */
  add(filter: string, key: string, value: T): boolean {
    let node = this.root
    for (const level of filter.split('/')) {
      if (!node.children) node.children = new Map()
      let child = node.children.get(level)
      if (!child) {
        child = new TreeNode<T>()
        node.children.set(level, child)
      }
      node = child
    }
    if (!node.values) node.values = new Map()
    const isNew = !node.values.has(key)
    node.values.set(key, value)
    if (isNew) this.count++
    return isNew
  }

  get(filter: string, key: string): T | undefined {
    let node: TreeNode<T> | undefined = this.root
    for (const level of filter.split('/')) {
      node = node.children?.get(level)
      if (!node) return undefined
    }
    return node.values?.get(key)
  }

  /** Removes (filter, key); prunes nodes left empty. Returns true when something was removed. */
  remove(filter: string, key: string): boolean {
    const levels = filter.split('/')
    const path: TreeNode<T>[] = [this.root]
    let node: TreeNode<T> = this.root
    for (const level of levels) {
      const child = node.children?.get(level)
      if (!child) return false
      path.push(child)
      node = child
    }
    if (!node.values?.delete(key)) return false
    this.count--
    if (node.values.size === 0) node.values = null
    for (let i = levels.length; i > 0; i--) {
      const current = path[i] as TreeNode<T>
      if (current.values || (current.children && current.children.size > 0)) break
      ;(path[i - 1] as TreeNode<T>).children?.delete(levels[i - 1] as string)
    }
    return true
  }

  /** Calls `visit` for every value whose filter matches the topic name. */
  match(topic: string, visit: (value: T, key: string) => void): void {
    const levels = topic.split('/')
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with '$'
    this.walk(this.root, levels, 0, topic.charCodeAt(0) === 36, visit)
  }

  private walk(node: TreeNode<T>, levels: string[], depth: number, dollar: boolean, visit: (value: T, key: string) => void): void {
    const children = node.children
    if (depth === levels.length) {
      if (node.values) for (const [key, value] of node.values) visit(value, key)
      // 'a/#' also matches 'a' [MQTT-4.7.1-2]
      const hash = children?.get('#')
      if (hash?.values) for (const [key, value] of hash.values) visit(value, key)
      return
    }
    if (!children) return
    const wildcardsAllowed = !(dollar && depth === 0)
    if (wildcardsAllowed) {
      const hash = children.get('#')
      if (hash?.values) for (const [key, value] of hash.values) visit(value, key)
      const plus = children.get('+')
      if (plus) this.walk(plus, levels, depth + 1, dollar, visit)
    }
    const exact = children.get(levels[depth] as string)
    if (exact) this.walk(exact, levels, depth + 1, dollar, visit)
  }

  *entries(): IterableIterator<TreeEntry<T>> {
    const stack: Array<{ node: TreeNode<T>; prefix: string | null }> = [{ node: this.root, prefix: null }]
    while (stack.length > 0) {
      const { node, prefix } = stack.pop() as { node: TreeNode<T>; prefix: string | null }
      if (node.values && prefix !== null) {
        for (const [key, value] of node.values) yield { filter: prefix, key, value }
      }
      if (node.children) {
        for (const [level, child] of node.children) stack.push({ node: child, prefix: prefix === null ? level : `${prefix}/${level}` })
      }
    }
  }
}
