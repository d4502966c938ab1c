import { CORE_OBJECTS } from './core-objects.js'
import type { ObjectDefinition, ResourceDefinition } from './types.js'

/** The object definitions a gateway types values with: the shipped core objects plus any the user loads. */
export class ObjectRegistry {
  private readonly objects = new Map<number, ObjectDefinition>()

  constructor(extra: readonly ObjectDefinition[] = []) {
    for (const definition of CORE_OBJECTS) this.objects.set(definition.id, definition)
    for (const definition of extra) this.objects.set(definition.id, definition)
  }

  object(id: number): ObjectDefinition | undefined {
    return this.objects.get(id)
  }

  resource(objectId: number, resourceId: number): ResourceDefinition | undefined {
    return this.objects.get(objectId)?.resources[resourceId]
  }
}
