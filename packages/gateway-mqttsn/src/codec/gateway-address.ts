import { isIPv4, isIPv6 } from 'node:net'

/** A gateway's UDP address as a GWINFO's GwAdd carries it. */
export interface UdpGatewayAddress {
  address: string
  /** Absent when GwAdd held the IP address alone: the gateway then listens on the port the search went to. */
  port: number | undefined
}

/**
 * GwAdd for a gateway on UDP. MQTT-SN 1.2 (§5.4.3) leaves GwAdd's form to the network; on UDP peers write the
 * IPv4 address (4 octets) and, in newer implementations, the port (2 octets, big-endian) after it. This writes
 * the address (IPv4: 4 octets, IPv6: 16) and the port.
 */
export function encodeUdpGatewayAddress(address: string, port: number): Buffer {
  const ip = isIPv4(address) ? ipv4Octets(address) : isIPv6(address) ? ipv6Octets(address) : undefined
  if (ip === undefined) throw new TypeError(`not an IP address: ${address}`)
  const bytes = Buffer.alloc(ip.length + 2)
  ip.copy(bytes)
  bytes.writeUInt16BE(port, ip.length)
  return bytes
}

/** Reads a GwAdd of 4 or 6 octets (IPv4, with or without port) or 16 or 18 (IPv6); undefined for any other form. */
export function decodeUdpGatewayAddress(bytes: Buffer): UdpGatewayAddress | undefined {
  const withPort = bytes.length === 6 || bytes.length === 18
  const ipLength = withPort ? bytes.length - 2 : bytes.length
  if (ipLength !== 4 && ipLength !== 16) return undefined
  const ip = bytes.subarray(0, ipLength)
  const address = ipLength === 4 ? [...ip].join('.') : ipv6Text(ip)
  return { address, port: withPort ? bytes.readUInt16BE(ipLength) : undefined }
}

function ipv4Octets(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number))
}

function ipv6Octets(address: string): Buffer {
  const [head = '', tail] = address.split('::')
  const groups = (part: string | undefined): string[] => (part === undefined || part === '' ? [] : part.split(':'))
  let left = groups(head)
  let right = groups(tail)
  // An embedded IPv4 address (::ffff:1.2.3.4) is two groups.
  const lastOf = (list: string[]): string | undefined => list[list.length - 1]
  const expand = (list: string[]): string[] => {
    const last = lastOf(list)
    if (last === undefined || !last.includes('.')) return list
    const v4 = ipv4Octets(last)
    return [...list.slice(0, -1), v4.readUInt16BE(0).toString(16), v4.readUInt16BE(2).toString(16)]
  }
  if (tail === undefined) left = expand(left)
  else right = expand(right)
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  const bytes = Buffer.alloc(16)
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2))
  return bytes
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16))
  return groups.join(':')
}
