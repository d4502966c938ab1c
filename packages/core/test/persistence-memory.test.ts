import { deliverySuite, persistenceSuite } from '@wren/persistence-test-suite'
import { createMemoryPersistence } from '../src/persistence/memory.js'

persistenceSuite('memory', async () => createMemoryPersistence())
deliverySuite('memory', async () => createMemoryPersistence())
