import { describe, expect, it } from 'vitest'
import { BridgeFileError, parseBridgeFile } from '../src/index.js'

const FULL = `# bridges moved over from mosquitto.conf
connection central
address central.example.com:8883 backup.example.com
round_robin true
bridge_bind_address 10.1.2.3
bridge_protocol_version mqttv50
try_private false
cleansession true
local_cleansession false
remote_clientid site-7
local_clientid site-7-local
remote_username site7
remote_password s3cret with spaces
local_username bridge
local_password local pass
notifications true
notifications_local_only true
notification_topic sites/7/bridge
keepalive_interval 30
restart_timeout 2 60
start_type lazy
idle_timeout 120
threshold 50
bridge_attempt_unsubscribe false
bridge_outgoing_retain false
bridge_fatal_sub_errors false
bridge_max_packet_size 65536
bridge_cafile certs/ca.pem
bridge_capath /etc/ssl/certs
bridge_certfile /etc/wren/client.pem
bridge_keyfile /etc/wren/client.key
bridge_insecure false
bridge_tls_version tlsv1.3
bridge_alpn mqtt
bridge_require_ocsp true
topic sensors/# out 1 site/ sites/7/
topic cmd/# in 2 "" sites/7/
topic "" both 0 local/one remote/other
topic status

connection second
addresses 10.0.0.1:1884,10.0.0.2
topic # both
restart_timeout 20
bridge_identity site-7
bridge_psk 0f1e2d3c
`

describe('the Mosquitto bridge file', () => {
  it('reads every bridge directive of mosquitto.conf(5)', () => {
    const [central, second] = parseBridgeFile(FULL, '/etc/wren/bridges.conf')
    expect(central).toEqual({
      name: 'central',
      addresses: [
        { host: 'central.example.com', port: 8883 },
        { host: 'backup.example.com', port: 1883 },
      ],
      roundRobin: true,
      bindAddress: '10.1.2.3',
      protocolVersion: 5,
      tryPrivate: false,
      cleanSession: true,
      localCleanSession: false,
      remoteClientId: 'site-7',
      localClientId: 'site-7-local',
      remoteUsername: 'site7',
      remotePassword: 's3cret with spaces',
      localUsername: 'bridge',
      localPassword: 'local pass',
      notifications: true,
      notificationsLocalOnly: true,
      notificationTopic: 'sites/7/bridge',
      keepalive: 30,
      restartTimeout: { base: 2, cap: 60 },
      startType: 'lazy',
      idleTimeout: 120,
      threshold: 50,
      attemptUnsubscribe: false,
      outgoingRetain: false,
      fatalSubErrors: false,
      maxPacketSize: 65536,
      tls: {
        cafile: '/etc/wren/certs/ca.pem',
        capath: '/etc/ssl/certs',
        certfile: '/etc/wren/client.pem',
        keyfile: '/etc/wren/client.key',
        insecure: false,
        version: 'tlsv1.3',
        alpn: 'mqtt',
        requireOcsp: true,
      },
      topics: [
        { pattern: 'sensors/#', direction: 'out', qos: 1, localPrefix: 'site/', remotePrefix: 'sites/7/' },
        { pattern: 'cmd/#', direction: 'in', qos: 2, localPrefix: '', remotePrefix: 'sites/7/' },
        { pattern: '', direction: 'both', qos: 0, localPrefix: 'local/one', remotePrefix: 'remote/other' },
        { pattern: 'status' },
      ],
    })
    expect(second).toEqual({
      name: 'second',
      addresses: [
        { host: '10.0.0.1', port: 1884 },
        { host: '10.0.0.2', port: 1883 },
      ],
      topics: [{ pattern: '#', direction: 'both' }],
      restartTimeout: 20,
      tls: { identity: 'site-7', psk: '0f1e2d3c' },
    })
  })

  it("accepts Mosquitto's older names (clientid, username, password)", () => {
    const [bridge] = parseBridgeFile('connection old\naddress h\nclientid c\nusername u\npassword p\ntopic #\n', 'b.conf')
    expect(bridge).toMatchObject({ remoteClientId: 'c', remoteUsername: 'u', remotePassword: 'p' })
  })

  const block = (...lines: string[]) => ['connection a', 'address 127.0.0.1', 'topic x/#', ...lines].join('\n')
  it.each([
    ['an unknown directive', block('bridge_colour blue'), 4, "unknown directive 'bridge_colour'"],
    ['bridge_psk without bridge_identity', block('bridge_psk 0011'), 1, 'TLS-PSK needs both identity and psk'],
    ['bridge_psk not in hexadecimal', block('bridge_identity me', 'bridge_psk 0g'), 1, 'psk must be an even number of hexadecimal digits'],
    ['TLS-PSK with a CA file', block('bridge_identity me', 'bridge_psk 0011', 'bridge_cafile ca.pem'), 1, 'TLS-PSK (identity, psk) and certificates'],
    ['a directive before any connection', 'address 127.0.0.1', 1, 'outside a connection block'],
    ['a non-boolean', block('try_private yes'), 4, "try_private: expects true or false, got 'yes'"],
    ['an unknown protocol version', block('bridge_protocol_version mqttv4'), 4, 'expects one of mqttv31, mqttv311, mqttv50'],
    ['keepalive under 5 s', block('keepalive_interval 4'), 4, 'at least 5'],
    ['restart_timeout with three values', block('restart_timeout 1 2 3'), 4, 'expects <seconds> or <base> <cap>'],
    ['restart_timeout cap below base', block('restart_timeout 10 5'), 4, 'cap 5 is below base 10'],
    ['an unknown start type', block('start_type manual'), 4, 'expects one of automatic, lazy, once'],
    ['a bad port', 'connection a\naddress host:99999\ntopic #', 2, 'port'],
    ['a bind address that is no IP address', block('bridge_bind_address eth0'), 1, "bindAddress must be an IP address, got 'eth0'"],
    ['a missing address', 'connection a\ntopic #', 1, 'connection a: bridge a needs at least one address'],
    ['a block without topics', 'connection a\naddress h', 1, 'needs at least one topic'],
    ['two connections with one name', 'connection a\naddress h\ntopic #\nconnection a', 4, 'defined twice'],
    ['remote_password without remote_username', block('remote_password p'), 1, 'remotePassword needs remoteUsername'],
    ['an empty value', block('remote_clientid'), 4, 'expects a value'],
    // topic forms of mosquitto.conf(5)
    ['topic with four fields (one prefix)', block('topic a out 0 local/'), 4, 'expects: topic <pattern>'],
    ['topic with six fields', block('topic a out 0 l/ r/ x'), 4, 'expects: topic <pattern>'],
    ['topic with a bad direction', block('topic a sideways'), 4, "direction must be out, in or both, got 'sideways'"],
    ['topic with QoS 3', block('topic a out 3'), 4, "QoS must be 0, 1 or 2, got '3'"],
    ['topic "" with no prefixes', block('topic ""'), 4, 'an empty topic pattern needs both'],
    ['topic "" with a local prefix only', block('topic "" out 0 local ""'), 4, 'an empty topic pattern needs both'],
    ['topic "" with a remote prefix only', block('topic "" out 0 "" remote'), 4, 'an empty topic pattern needs both'],
    ['topic with a wildcard in a prefix', block('topic # out 0 a/+/ b/'), 4, 'must not contain wildcards'],
    ['topic with a bad pattern', block('topic a/#/b'), 4, "local topic 'a/#/b'"],
  ])('stops at %s, naming file and line', (_what, source, line, reason) => {
    let error: unknown
    try {
      parseBridgeFile(source, 'bridges.conf')
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(BridgeFileError)
    expect((error as BridgeFileError).code).toBe('WREN_BRIDGE_FILE_INVALID')
    expect((error as BridgeFileError).message).toMatch(new RegExp(`^bridges\\.conf:${line}: `))
    expect((error as BridgeFileError).message).toContain(reason)
  })
})
