/**
 * Each ownership change and announcement is appended to the event stream and published on the broadcast
 * channel inside one script: every node sees them in the order Redis applied them, and the stream entry id
 * rides along so a node that lost its subscription can replay exactly what it missed.
 * A published event is `<stream id> <json>`.
 */
const EMIT = `
local function emit(events, channel, maxlen, event)
  local id = redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'e', event)
  redis.call('PUBLISH', channel, id .. ' ' .. event)
end
`

/** KEYS: events. ARGV: channel, maxlen, event. */
export const ANNOUNCE = `${EMIT}
emit(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`

/**
 * Records this node as the client's owner and returns the previous one (nil when none).
 * KEYS: owners, events, node-clients:<me>. ARGV: channel, maxlen, prefix, me, clientId, event.
 */
export const CLAIM = `${EMIT}
local previous = redis.call('HGET', KEYS[1], ARGV[5])
if previous == ARGV[4] then return previous end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
if previous then redis.call('SREM', ARGV[3] .. 'node-clients:' .. previous, ARGV[5]) end
emit(KEYS[2], ARGV[1], ARGV[2], ARGV[6])
return previous
`

/**
 * Clears the client's owner only if it is still this node: after a takeover the new owner's entry stays.
 * KEYS: owners, events, node-clients:<me>. ARGV: channel, maxlen, me, clientId, event. Returns 1 if cleared.
 */
export const DISOWN = `${EMIT}
redis.call('SREM', KEYS[3], ARGV[4])
if redis.call('HGET', KEYS[1], ARGV[4]) ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[4])
emit(KEYS[2], ARGV[1], ARGV[2], ARGV[5])
return 1
`

/**
 * Renews this node's lease and client count. Returns whether the node was still a member: 0 after it joined
 * means another node declared it dead and adopted its clients.
 * KEYS: lease:<me>, nodes, counts. ARGV: me, leaseMs, client count.
 */
export const HEARTBEAT = `
local member = redis.call('SISMEMBER', KEYS[2], ARGV[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return member
`

/**
 * Declares every member whose lease is gone dead, in one atomic step: whichever node runs this first for a
 * dead node is the only one that gets it back. Its clients leave \`owners\` and the node leaves the members.
 * KEYS: nodes, owners, counts, events. ARGV: channel, maxlen, prefix, me.
 * Returns a flat list: node id, then the array of its orphaned client ids, per dead node.
 */
export const REAP = `${EMIT}
local reaped = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[3] .. 'lease:' .. node) == 0 then
    local set = ARGV[3] .. 'node-clients:' .. node
    local orphans = {}
    for _, client in ipairs(redis.call('SMEMBERS', set)) do
      if redis.call('HGET', KEYS[2], client) == node then
        redis.call('HDEL', KEYS[2], client)
        orphans[#orphans + 1] = client
      end
    end
    redis.call('DEL', set)
    redis.call('SREM', KEYS[1], node)
    redis.call('HDEL', KEYS[3], node)
    emit(KEYS[4], ARGV[1], ARGV[2], cjson.encode({t = 'down', n = node}))
    reaped[#reaped + 1] = node
    reaped[#reaped + 1] = orphans
  end
end
return reaped
`

/**
 * A node leaving on purpose: its remaining clients are disowned, its lease, count and membership go.
 * KEYS: lease:<me>, nodes, counts, node-clients:<me>, owners, events. ARGV: channel, maxlen, me.
 */
export const LEAVE = `${EMIT}
for _, client in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if redis.call('HGET', KEYS[5], client) == ARGV[3] then redis.call('HDEL', KEYS[5], client) end
end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('SREM', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
emit(KEYS[6], ARGV[1], ARGV[2], cjson.encode({t = 'down', n = ARGV[3]}))
`
