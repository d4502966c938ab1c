import type { ObjectDefinition, ResourceDefinition, ResourceType } from './types.js'

type Row = [id: number, name: string, operations: ResourceDefinition['operations'], type: ResourceType, multiple?: boolean]

function object(id: number, name: string, multiple: boolean, rows: Row[]): ObjectDefinition {
  const resources: Record<number, ResourceDefinition> = {}
  for (const [rid, rname, operations, type, many] of rows) {
    resources[rid] = { id: rid, name: rname, operations, type, multiple: many ?? false, mandatory: false }
  }
  return { id, name, multiple, resources }
}

const IPSO_SENSOR: Row[] = [
  [5700, 'Sensor Value', 'R', 'Float'],
  [5601, 'Min Measured Value', 'R', 'Float'],
  [5602, 'Max Measured Value', 'R', 'Float'],
  [5603, 'Min Range Value', 'R', 'Float'],
  [5604, 'Max Range Value', 'R', 'Float'],
  [5701, 'Sensor Units', 'R', 'String'],
  [5605, 'Reset Min and Max Measured Values', 'E', 'None'],
]

/**
 * The OMA registry's core objects (LwM2M 1.0 Appendix D/E) and a few IPSO ones, shipped so TLV values are typed
 * without any XML at hand; more objects load from the registry's XML with `parseObjectXml`.
 */
export const CORE_OBJECTS: readonly ObjectDefinition[] = [
  object(0, 'LwM2M Security', true, [
    [0, 'LWM2M Server URI', '', 'String'],
    [1, 'Bootstrap-Server', '', 'Boolean'],
    [2, 'Security Mode', '', 'Integer'],
    [3, 'Public Key or Identity', '', 'Opaque'],
    [4, 'Server Public Key', '', 'Opaque'],
    [5, 'Secret Key', '', 'Opaque'],
    [6, 'SMS Security Mode', '', 'Integer'],
    [7, 'SMS Binding Key Parameters', '', 'Opaque'],
    [8, 'SMS Binding Secret Key(s)', '', 'Opaque'],
    [9, 'LwM2M Server SMS Number', '', 'String'],
    [10, 'Short Server ID', '', 'Integer'],
    [11, 'Client Hold Off Time', '', 'Integer'],
    [12, 'Bootstrap-Server Account Timeout', '', 'Integer'],
  ]),
  object(1, 'LwM2M Server', true, [
    [0, 'Short Server ID', 'R', 'Integer'],
    [1, 'Lifetime', 'RW', 'Integer'],
    [2, 'Default Minimum Period', 'RW', 'Integer'],
    [3, 'Default Maximum Period', 'RW', 'Integer'],
    [4, 'Disable', 'E', 'None'],
    [5, 'Disable Timeout', 'RW', 'Integer'],
    [6, 'Notification Storing When Disabled or Offline', 'RW', 'Boolean'],
    [7, 'Binding', 'RW', 'String'],
    [8, 'Registration Update Trigger', 'E', 'None'],
  ]),
  object(2, 'LwM2M Access Control', true, [
    [0, 'Object ID', 'R', 'Integer'],
    [1, 'Object Instance ID', 'R', 'Integer'],
    [2, 'ACL', 'RW', 'Integer', true],
    [3, 'Access Control Owner', 'RW', 'Integer'],
  ]),
  object(3, 'Device', false, [
    [0, 'Manufacturer', 'R', 'String'],
    [1, 'Model Number', 'R', 'String'],
    [2, 'Serial Number', 'R', 'String'],
    [3, 'Firmware Version', 'R', 'String'],
    [4, 'Reboot', 'E', 'None'],
    [5, 'Factory Reset', 'E', 'None'],
    [6, 'Available Power Sources', 'R', 'Integer', true],
    [7, 'Power Source Voltage', 'R', 'Integer', true],
    [8, 'Power Source Current', 'R', 'Integer', true],
    [9, 'Battery Level', 'R', 'Integer'],
    [10, 'Memory Free', 'R', 'Integer'],
    [11, 'Error Code', 'R', 'Integer', true],
    [12, 'Reset Error Code', 'E', 'None'],
    [13, 'Current Time', 'RW', 'Time'],
    [14, 'UTC Offset', 'RW', 'String'],
    [15, 'Timezone', 'RW', 'String'],
    [16, 'Supported Binding and Modes', 'R', 'String'],
    [17, 'Device Type', 'R', 'String'],
    [18, 'Hardware Version', 'R', 'String'],
    [19, 'Software Version', 'R', 'String'],
    [20, 'Battery Status', 'R', 'Integer'],
    [21, 'Memory Total', 'R', 'Integer'],
    [22, 'ExtDevInfo', 'R', 'Objlnk', true],
  ]),
  object(4, 'Connectivity Monitoring', false, [
    [0, 'Network Bearer', 'R', 'Integer'],
    [1, 'Available Network Bearer', 'R', 'Integer', true],
    [2, 'Radio Signal Strength', 'R', 'Integer'],
    [3, 'Link Quality', 'R', 'Integer'],
    [4, 'IP Addresses', 'R', 'String', true],
    [5, 'Router IP Addresses', 'R', 'String', true],
    [6, 'Link Utilization', 'R', 'Integer'],
    [7, 'APN', 'R', 'String', true],
    [8, 'Cell ID', 'R', 'Integer'],
    [9, 'SMNC', 'R', 'Integer'],
    [10, 'SMCC', 'R', 'Integer'],
  ]),
  object(5, 'Firmware Update', false, [
    [0, 'Package', 'W', 'Opaque'],
    [1, 'Package URI', 'RW', 'String'],
    [2, 'Update', 'E', 'None'],
    [3, 'State', 'R', 'Integer'],
    [4, 'Update Supported Objects', 'RW', 'Boolean'],
    [5, 'Update Result', 'R', 'Integer'],
    [6, 'PkgName', 'R', 'String'],
    [7, 'PkgVersion', 'R', 'String'],
    [8, 'Firmware Update Protocol Support', 'R', 'Integer', true],
    [9, 'Firmware Update Delivery Method', 'R', 'Integer'],
  ]),
  object(6, 'Location', false, [
    [0, 'Latitude', 'R', 'Float'],
    [1, 'Longitude', 'R', 'Float'],
    [2, 'Altitude', 'R', 'Float'],
    [3, 'Radius', 'R', 'Float'],
    [4, 'Velocity', 'R', 'Opaque'],
    [5, 'Timestamp', 'R', 'Time'],
    [6, 'Speed', 'R', 'Float'],
  ]),
  object(7, 'Connectivity Statistics', false, [
    [0, 'SMS Tx Counter', 'R', 'Integer'],
    [1, 'SMS Rx Counter', 'R', 'Integer'],
    [2, 'Tx Data', 'R', 'Integer'],
    [3, 'Rx Data', 'R', 'Integer'],
    [4, 'Max Message Size', 'R', 'Integer'],
    [5, 'Average Message Size', 'R', 'Integer'],
    [6, 'Start', 'E', 'None'],
    [7, 'Stop', 'E', 'None'],
    [8, 'Collection Period', 'RW', 'Integer'],
  ]),
  object(3303, 'Temperature', true, IPSO_SENSOR),
  object(3304, 'Humidity', true, IPSO_SENSOR),
  object(3311, 'Light Control', true, [
    [5850, 'On/Off', 'RW', 'Boolean'],
    [5851, 'Dimmer', 'RW', 'Integer'],
    [5852, 'On Time', 'RW', 'Integer'],
    [5805, 'Cumulative Active Power', 'R', 'Float'],
    [5820, 'Power Factor', 'R', 'Float'],
    [5706, 'Colour', 'RW', 'String'],
    [5701, 'Sensor Units', 'R', 'String'],
  ]),
]
