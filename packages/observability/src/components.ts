import type { Broker, ComponentSnapshot, ComponentStats } from '@wren/core'

/** A bridge or gateway as the admin API answers it. */
export interface ComponentJson extends ComponentSnapshot {
  kind: ComponentStats['kind']
  name: string
}

/** How long one snapshot of a component serves the metric families of one scrape (collected in parallel). */
const SNAPSHOT_FRESH_MS = 250

/** Snapshots of the broker's registered components, each taken at most once per scrape. */
export class ComponentSnapshots {
  private readonly taken = new WeakMap<ComponentStats, { at: number; snapshot: ComponentSnapshot }>()

  constructor(private readonly broker: Broker) {}

  of(component: ComponentStats): ComponentSnapshot {
    const now = Date.now()
    const last = this.taken.get(component)
    if (last && now - last.at <= SNAPSHOT_FRESH_MS) return last.snapshot
    const snapshot = component.snapshot()
    this.taken.set(component, { at: now, snapshot })
    return snapshot
  }

  list(kind: ComponentStats['kind']): ComponentJson[] {
    return this.broker.admin.components(kind).map((component) => this.json(component))
  }

  get(kind: ComponentStats['kind'], name: string): ComponentJson | undefined {
    const component = this.broker.admin.components(kind).find((c) => c.name === name)
    return component && this.json(component)
  }

  private json(component: ComponentStats): ComponentJson {
    return { kind: component.kind, name: component.name, ...component.snapshot() }
  }
}
