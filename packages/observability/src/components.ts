import type { Broker, ComponentSnapshot, ComponentStats } from '@wren/core'

/** A bridge or gateway as the admin API answers it. */
export interface ComponentJson extends ComponentSnapshot {
  kind: ComponentStats['kind']
  name: string
}

/** Snapshots of the broker's registered components, each taken at most once per scrape. */
export class ComponentSnapshots {
  private taken = new WeakMap<ComponentStats, ComponentSnapshot>()

  constructor(private readonly broker: Broker) {}

  /** A new scrape begins: every component is read afresh, once, however many metric families ask for it. */
  nextScrape(): void {
    this.taken = new WeakMap()
  }

  of(component: ComponentStats): ComponentSnapshot {
    let snapshot = this.taken.get(component)
    if (snapshot === undefined) {
      snapshot = component.snapshot()
      this.taken.set(component, snapshot)
    }
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
