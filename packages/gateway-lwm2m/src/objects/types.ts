/** LwM2M 1.0 resource data types (§C.1). */
export type ResourceType = 'String' | 'Integer' | 'Float' | 'Boolean' | 'Opaque' | 'Time' | 'Objlnk' | 'None'

export interface ResourceDefinition {
  id: number
  name: string
  operations: '' | 'R' | 'W' | 'RW' | 'E'
  multiple: boolean
  mandatory: boolean
  type: ResourceType
}

export interface ObjectDefinition {
  id: number
  name: string
  multiple: boolean
  resources: Record<number, ResourceDefinition>
}

/** A resource value as it appears in the MQTT JSON: Opaque values are base64 strings, Objlnk "objectId:instanceId". */
export type ResourceValue = string | number | boolean
