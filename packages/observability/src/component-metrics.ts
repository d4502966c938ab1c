import type { Broker, ComponentStats } from '@wren/core'
import type { Metric, Registry } from 'prom-client'
import { ComponentSnapshots } from './components.js'

type Kind = ComponentStats['kind']
type Read = (component: ComponentStats) => number | undefined

/**
 * The metric families of the broker's bridges and gateways: `wren_<kind>_up` and one per declared metric,
 * labelled with the component's name (`bridge="..."`, `gateway="..."`). Families are added as components
 * first register; each reads the components' plain counters when scraped.
 */
export class ComponentMetrics {
  private readonly families = new Set<string>()
  private readonly snapshots: ComponentSnapshots

  constructor(
    private readonly broker: Broker,
    private readonly registry: Registry,
  ) {
    this.snapshots = new ComponentSnapshots(broker)
  }

  /** Starts a scrape: adds the families of components registered since the last one, and reads each anew. */
  sync(): void {
    this.snapshots.nextScrape()
    for (const component of this.broker.admin.components()) {
      const kind = component.kind
      this.family(kind, `wren_${kind}_up`, 'gauge', `1 while the ${kind} is up (a bridge: linked to its remote broker), 0 otherwise.`, (c) =>
        this.snapshots.of(c).up ? 1 : 0,
      )
      for (const metric of component.metrics) {
        const name = `wren_${kind}_${metric.name}${metric.type === 'counter' ? '_total' : ''}`
        this.family(kind, name, metric.type, metric.help, (c) => this.snapshots.of(c).values[metric.name])
      }
    }
  }

  /** A family written out as prom-client's metric shape: its values are the components', read at scrape time. */
  private family(kind: Kind, name: string, type: 'counter' | 'gauge', help: string, read: Read): void {
    if (this.families.has(name)) return
    this.families.add(name)
    const broker = this.broker
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      reset: () => undefined,
      get: async () => {
        const values: Array<{ labels: Record<string, string>; value: number }> = []
        for (const component of broker.admin.components(kind)) {
          const value = read(component)
          if (value !== undefined) values.push({ labels: { [kind]: component.name }, value })
        }
        return { name, help, type, aggregator: 'sum', values }
      },
    }
    this.registry.registerMetric(metric as unknown as Metric)
  }
}
