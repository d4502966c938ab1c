/**
 * The semantics every Wren persistence adapter must have, as vitest tests. An adapter's own test file calls
 * `persistenceSuite()` once; each test gets a fresh, empty store from the factory.
 */
import { afterEach, beforeEach, describe } from 'vitest'
import type { Persistence } from '@wren/core'
import { inboundAndWillTests } from './inbound-and-wills.js'
import { limitTests } from './limits.js'
import { outboundDeliveryTests } from './outbound-delivery.js'
import { outboundEnqueueTests } from './outbound-enqueue.js'
import { reopenTests } from './reopen.js'
import { retainedTests } from './retained.js'
import { sessionDeleteTests } from './session-delete.js'
import { sessionTests } from './sessions.js'
import { subscriptionTests } from './subscriptions.js'

export interface PersistenceSuiteOptions {
  /** Releases what the factory made. Default: `persistence.close()`. */
  teardown?: (persistence: Persistence) => Promise<void>
  /**
   * Closes the given store and opens a new one on the same storage, for adapters whose data outlives the
   * process. Without it the "survives reopen" tests are skipped.
   */
  reopen?: (persistence: Persistence) => Promise<Persistence>
}

export function persistenceSuite(name: string, factory: () => Promise<Persistence>, options: PersistenceSuiteOptions = {}): void {
  const teardown = options.teardown ?? ((persistence: Persistence) => persistence.close())

  describe(`persistence suite: ${name}`, () => {
    let current: Persistence | undefined

    beforeEach(async () => {
      current = await factory()
    })

    afterEach(async () => {
      if (current) await teardown(current)
      current = undefined
    })

    const store = (): Persistence => {
      if (!current) throw new Error('the store is opened before each test')
      return current
    }

    retainedTests(store)
    sessionTests(store)
    subscriptionTests(store)
    outboundEnqueueTests(store)
    outboundDeliveryTests(store)
    inboundAndWillTests(store)
    sessionDeleteTests(store)
    limitTests(store)
    const { reopen } = options
    if (reopen) {
      reopenTests(store, async () => {
        current = await reopen(store())
        return current
      })
    }
  })
}

export { testMessage } from './fixtures.js'
export { deliverySuite } from './delivery-suite.js'
