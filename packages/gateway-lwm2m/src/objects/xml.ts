import type { ObjectDefinition, ResourceDefinition, ResourceType } from './types.js'

const TYPES: Record<string, ResourceType> = {
  string: 'String',
  integer: 'Integer',
  'unsigned integer': 'Integer',
  float: 'Float',
  boolean: 'Boolean',
  opaque: 'Opaque',
  time: 'Time',
  objlnk: 'Objlnk',
  corelnk: 'String',
  '': 'None',
}

function tag(xml: string, name: string): string {
  const match = new RegExp(`<${name}>\\s*(?:<!\\[CDATA\\[)?([\\s\\S]*?)(?:\\]\\]>)?\\s*</${name}>`).exec(xml)
  return match?.[1]?.trim() ?? ''
}

function operations(value: string): ResourceDefinition['operations'] {
  return value === 'R' || value === 'W' || value === 'RW' || value === 'E' ? value : ''
}

/**
 * The object definitions in an OMA LwM2M registry XML document (the DDF files at
 * openmobilealliance.org/tech/profiles): only what typing values needs (ids, names, types, operations).
 */
export function parseObjectXml(xml: string): ObjectDefinition[] {
  const objects: ObjectDefinition[] = []
  for (const [, body = ''] of xml.matchAll(/<Object\b[^>]*>([\s\S]*?)<\/Object>/g)) {
    const resourcesAt = body.indexOf('<Resources>')
    const head = resourcesAt < 0 ? body : body.slice(0, resourcesAt)
    const id = Number(tag(head, 'ObjectID'))
    if (!Number.isInteger(id)) throw new Error('object definition without a numeric ObjectID')
    const resources: Record<number, ResourceDefinition> = {}
    for (const [, rid = '', item = ''] of body.matchAll(/<Item\s+ID="(\d+)"\s*>([\s\S]*?)<\/Item>/g)) {
      const type = TYPES[tag(item, 'Type').toLowerCase()]
      resources[Number(rid)] = {
        id: Number(rid),
        name: tag(item, 'Name'),
        operations: operations(tag(item, 'Operations')),
        multiple: tag(item, 'MultipleInstances') === 'Multiple',
        mandatory: tag(item, 'Mandatory') === 'Mandatory',
        type: type ?? 'Opaque',
      }
    }
    objects.push({ id, name: tag(head, 'Name'), multiple: tag(head, 'MultipleInstances') === 'Multiple', resources })
  }
  return objects
}
