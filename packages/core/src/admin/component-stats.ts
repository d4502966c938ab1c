/** One number a component reports; `name` is snake_case and unique within the component's kind. */
export interface ComponentMetric {
  /** e.g. `messages_received`: exported as `wren_<kind>_messages_received_total` (counter) or `wren_<kind>_<name>` (gauge). */
  name: string
  /** counter: a total since the component started (never goes down); gauge: a level now. */
  type: 'counter' | 'gauge'
  /** One sentence for the metric's HELP line. */
  help: string
}

/** What a component reports now. */
export interface ComponentSnapshot {
  /** Doing its job: a bridge linked to its remote broker, a gateway serving its clients. */
  up: boolean
  /** One word for people: `connected`, `idle`, `listening`, `closed`... */
  state: string
  /** A value for every metric the component declares, by name. */
  values: Readonly<Record<string, number>>
  /** More for the admin API and the dashboard (JSON-serializable, small: addresses, options, counts by state). */
  details?: Readonly<Record<string, unknown>>
}

/**
 * A bridge or a gateway as observability sees it. It registers with `broker.admin.register()` while it runs;
 * metrics exporters and the admin API read it when asked (a scrape, an API call): nothing is pushed, so
 * counting stays plain number increments in the component.
 */
export interface ComponentStats {
  readonly kind: 'bridge' | 'gateway'
  /** Unique within its kind on one broker: a bridge's name, a gateway's protocol (`mqtt-sn`, `lwm2m`). */
  readonly name: string
  /** The same list for every component of one kind and name pattern: it becomes one metric family each. */
  readonly metrics: readonly ComponentMetric[]
  snapshot(): ComponentSnapshot
}

import { ErrorCode, UsageError } from '../errors.js'

const NAME = /^[a-z][a-z0-9_]*$/

/** The components registered with one broker, by kind and name. */
export class ComponentRegistry {
  private readonly byKey = new Map<string, ComponentStats>()

  /** Adds a component; the returned function removes it (call it when the component stops for good). */
  register(component: ComponentStats): () => void {
    const key = `${component.kind}\u0000${component.name}`
    if (this.byKey.has(key)) throw new UsageError(ErrorCode.ComponentDuplicate, `a ${component.kind} named '${component.name}' is registered already`)
    for (const metric of component.metrics) {
      if (!NAME.test(metric.name)) throw new UsageError(ErrorCode.ComponentMetricInvalid, `'${metric.name}' is not a snake_case metric name`)
    }
    this.byKey.set(key, component)
    return () => {
      if (this.byKey.get(key) === component) this.byKey.delete(key)
    }
  }

  /** Registered components (of one kind), ordered by name. */
  list(kind?: ComponentStats['kind']): ComponentStats[] {
    const list = [...this.byKey.values()].filter((c) => kind === undefined || c.kind === kind)
    return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }
}
