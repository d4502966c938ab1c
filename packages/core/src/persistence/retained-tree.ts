/**
 * Retained messages keyed by topic name, walked by filter: the reverse of the router's TopicTree, which holds
 * filters and is walked by topic name. A subscribe then visits only the branches its filter can reach.
 */

class RetainedNode<T> {
  children: Map<string, RetainedNode<T>> | null = null
  value: T | undefined = undefined
}

export class RetainedTree<T> {
  private readonly root = new RetainedNode<T>()
  private count = 0

  get size(): number {
    return this.count
  }

  set(topic: string, value: T): void {
    let node = this.root
    for (const level of topic.split('/')) {
      if (!node.children) node.children = new Map()
      let child = node.children.get(level)
      if (!child) {
        child = new RetainedNode<T>()
        node.children.set(level, child)
      }
      node = child
    }
    if (node.value === undefined) this.count++
    node.value = value
  }

  get(topic: string): T | undefined {
    let node: RetainedNode<T> | undefined = this.root
    for (const level of topic.split('/')) {
      node = node.children?.get(level)
      if (!node) return undefined
    }
    return node.value
  }

  /** Removes the topic's value and prunes the nodes left empty; returns true when there was one. */
  delete(topic: string): boolean {
    const levels = topic.split('/')
    const path: RetainedNode<T>[] = [this.root]
    let node = this.root
    for (const level of levels) {
      const child = node.children?.get(level)
      if (!child) return false
      path.push(child)
      node = child
    }
    if (node.value === undefined) return false
    node.value = undefined
    this.count--
    for (let i = levels.length; i > 0; i--) {
      const current = path[i] as RetainedNode<T>
      if (current.value !== undefined || (current.children && current.children.size > 0)) break
      ;(path[i - 1] as RetainedNode<T>).children?.delete(levels[i - 1] as string)
    }
    return true
  }

  /** Calls `visit` for the value of every topic the (valid, non-shared) filter matches. */
  match(filter: string, visit: (value: T, topic: string) => void): void {
    this.walk(this.root, filter.split('/'), 0, '', visit)
  }

  private walk(node: RetainedNode<T>, levels: string[], depth: number, prefix: string, visit: (value: T, topic: string) => void): void {
    if (depth === levels.length) {
      if (node.value !== undefined) visit(node.value, prefix)
      return
    }
    const level = levels[depth] as string
    if (level === '#') {
      // 'a/#' matches 'a' itself [MQTT-4.7.1-2]
      if (depth > 0 && node.value !== undefined) visit(node.value, prefix)
      this.visitAll(node, depth, prefix, visit)
      return
    }
    if (!node.children) return
    if (level === '+') {
      for (const [name, child] of node.children) {
        // [MQTT-4.7.2-1] a leading wildcard does not match a topic starting with '$'
        if (depth === 0 && name.charCodeAt(0) === 36) continue
        this.walk(child, levels, depth + 1, depth === 0 ? name : `${prefix}/${name}`, visit)
      }
      return
    }
    const child = node.children.get(level)
    if (child) this.walk(child, levels, depth + 1, depth === 0 ? level : `${prefix}/${level}`, visit)
  }

  /** Every value below `node` (not `node` itself), for a '#' at `depth`. */
  private visitAll(node: RetainedNode<T>, depth: number, prefix: string, visit: (value: T, topic: string) => void): void {
    if (!node.children) return
    for (const [name, child] of node.children) {
      if (depth === 0 && name.charCodeAt(0) === 36) continue // [MQTT-4.7.2-1]
      const topic = depth === 0 ? name : `${prefix}/${name}`
      if (child.value !== undefined) visit(child.value, topic)
      this.visitAll(child, depth + 1, topic, visit)
    }
  }
}
