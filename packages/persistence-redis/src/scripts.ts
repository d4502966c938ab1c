import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/** ioredis has Buffer-reply variants of every command at run time; its types leave this one out. */
interface BufferScripts {
  evalshaBuffer(sha: string, numKeys: number, ...keysAndArgs: Array<string | Buffer | number>): Promise<unknown>
}

/**
 * A Lua script run by EVALSHA. There is no fallback to EVAL on NOSCRIPT: the retry would run behind commands
 * sent after it, and the broker pipelines a session's writes on the promise that they apply in call order.
 * `ScriptLoader` makes sure the server knows every script before the first EVALSHA on a connection instead.
 * Scripts are where a read decides a write: the limit check, packet id lookups, refcounts.
 */
export class LuaScript {
  readonly sha: string

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  /** Runs the script; replies come back as strings. */
  run(redis: Redis, keys: string[], args: Array<string | Buffer | number>): Promise<unknown> {
    // The named methods, not redis.call('EVALSHA', ...): ioredis' auto-pipelining mistakes call()'s first
    // argument for the command name.
    return redis.evalsha(this.sha, keys.length, ...keys, ...args)
  }

  /** Runs the script; replies come back as Buffers, for scripts that return stored binary values. */
  runBuffer(redis: Redis, keys: string[], args: Array<string | Buffer | number>): Promise<unknown> {
    return (redis as Redis & BufferScripts).evalshaBuffer(this.sha, keys.length, ...keys, ...args)
  }
}

/** Drops one entry of a client's queue, its payload bytes from the queue's total, and its message reference. */
const DROP_ENTRY = `
-- packetField: the entry's 'p:<packet id>' field when the caller read it (an ack); nil to look it up.
local function drop(queue, delivery, inflight, bytes, id, messagePrefix, packetField)
  if redis.call('ZREM', queue, id) == 0 then return 0 end
  redis.call('HDEL', delivery, id)
  if not packetField then
    local flight = redis.call('HGET', inflight, 'm:' .. id)
    if flight then
      packetField = 'p:' .. string.sub(flight, 3)
      if redis.call('HGET', inflight, packetField) ~= id then packetField = nil end
    end
  end
  if packetField then redis.call('HDEL', inflight, packetField, 'm:' .. id) else redis.call('HDEL', inflight, 'm:' .. id) end
  local messageKey = messagePrefix .. id
  -- Numbers go to redis.call as the strings they were stored as: Redis prints a Lua number with printf.
  local size = redis.call('HGET', messageKey, 'size')
  if size and size ~= '0' and redis.call('DECRBY', bytes, size) <= 0 then redis.call('DEL', bytes) end
  if redis.call('HINCRBY', messageKey, 'refs', '-1') <= 0 then redis.call('DEL', messageKey) end
  return 1
end
`

/** The oldest entry of a queue that is not in flight, read a page at a time; nil when every entry is in flight. */
const OLDEST_QUEUED = `
local function oldestQueued(queue, inflight)
  local start = 0
  while true do
    local ids = redis.call('ZRANGE', queue, start, start + 99)
    if #ids == 0 then return nil end
    for _, id in ipairs(ids) do
      if redis.call('HEXISTS', inflight, 'm:' .. id) == 0 then return id end
    end
    start = start + 100
  end
end
`

/**
 * A batch of queue writes in one call: every enqueue, sent, released, ack and remove issued during one turn
 * of the event loop, applied in the order they were made. One EVALSHA carries a turn's writes, so Redis parses,
 * dispatches and replies once per turn instead of once per write, and the adapter builds one command.
 *
 * ARGV: queue, delivery, inflight, queue-bytes and message key prefixes, the sequence key, the number of
 * enqueues among the writes, then the writes packed as one MessagePack array of strings (`PackedFields`), each
 * write an opcode followed by its fields:
 * - `E`, target count n, message id, encoded message, limit (-1 for none), drop-oldest (1 or 0),
 *   byte limit (-1 for none), payload bytes, then (client id, delivery JSON) n times;
 * - `S` (sent), client id, message id, packet id;
 * - `R` (released), client id, packet id;
 * - `A` (ack), client id, packet id;
 * - `X` (remove), client id, message id.
 *
 * An enqueue appends the message to many queues. A queue is full when it holds `limit` entries or its payload
 * bytes plus the message's would pass the byte limit: it refuses the message, or with drop-oldest gives up its
 * oldest entries not in flight until the message fits. A message larger than the byte limit goes to no queue.
 * Returns, flat, (write number from 1, client id) per message an enqueue lost (refused or dropped).
 * Keys are built from the prefixes, as message keys always were: one Redis, not Redis Cluster.
 */
export const BATCH = new LuaScript(`${DROP_ENTRY}${OLDEST_QUEUED}
local queuePrefix, deliveryPrefix, inflightPrefix, bytesPrefix, messagePrefix, sequenceKey, enqueues =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local fields = cmsgpack.unpack(ARGV[8])
local lost = {}
-- One INCRBY takes the batch's block of sequence numbers; each enqueue uses the next, in call order.
local sequence = 0
if enqueues ~= '0' then sequence = redis.call('INCRBY', sequenceKey, enqueues) - tonumber(enqueues) end

local function fits(queue, bytes, limit, byteLimit, size)
  if limit >= 0 and redis.call('ZCARD', queue) >= limit then return false end
  return byteLimit < 0 or tonumber(redis.call('GET', bytes) or '0') + size <= byteLimit
end

local function enqueue(i, op)
  local n = tonumber(fields[i + 1])
  local id = fields[i + 2]
  local limit = tonumber(fields[i + 4])
  local dropOldest = fields[i + 5] == '1'
  local byteLimit = tonumber(fields[i + 6])
  local size = tonumber(fields[i + 7])
  sequence = sequence + 1
  local added = 0
  for t = 0, n - 1 do
    local clientId = fields[i + 8 + 2 * t]
    local queue = queuePrefix .. clientId
    local delivery = deliveryPrefix .. clientId
    local inflight = inflightPrefix .. clientId
    local bytes = bytesPrefix .. clientId
    local room = not (byteLimit >= 0 and size > byteLimit)
    -- The common case, a queue with room, takes the duplicate check and the delivery write in one call.
    local fresh = room and fits(queue, bytes, limit, byteLimit, size) and redis.call('HSETNX', delivery, id, fields[i + 9 + 2 * t]) == 1
    if not fresh and redis.call('HEXISTS', delivery, id) == 0 then
      if not room then lost[#lost + 1] = op; lost[#lost + 1] = clientId end
      while room and not fits(queue, bytes, limit, byteLimit, size) do
        lost[#lost + 1] = op
        lost[#lost + 1] = clientId
        local oldest = dropOldest and oldestQueued(queue, inflight)
        room = oldest and drop(queue, delivery, inflight, bytes, oldest, messagePrefix) == 1
      end
      if room then redis.call('HSET', delivery, id, fields[i + 9 + 2 * t]) end
      fresh = room
    end
    if fresh then
      redis.call('ZADD', queue, sequence, id)
      if size > 0 then redis.call('INCRBY', bytes, fields[i + 7]) end
      added = added + 1
    end
  end
  if added > 0 then
    local messageKey = messagePrefix .. id
    -- A message is stored once: its body and size go with the first reference.
    if redis.call('HINCRBY', messageKey, 'refs', added == 1 and '1' or added) == added then
      redis.call('HSET', messageKey, 'body', fields[i + 3], 'size', fields[i + 7])
    end
  end
  return i + 8 + 2 * n
end

local function sent(clientId, id, packetId)
  local inflight = inflightPrefix .. clientId
  if redis.call('HEXISTS', deliveryPrefix .. clientId, id) == 0 then return end
  local previous = redis.call('HGET', inflight, 'm:' .. id)
  if previous then
    local packetField = 'p:' .. string.sub(previous, 3)
    if redis.call('HGET', inflight, packetField) == id then redis.call('HDEL', inflight, packetField) end
  end
  redis.call('HSET', inflight, 'm:' .. id, 's:' .. packetId, 'p:' .. packetId, id)
end

local function released(clientId, packetId)
  local inflight = inflightPrefix .. clientId
  local id = redis.call('HGET', inflight, 'p:' .. packetId)
  if id then redis.call('HSET', inflight, 'm:' .. id, 'r:' .. packetId) end
end

local function dropFrom(clientId, id, packetField)
  drop(queuePrefix .. clientId, deliveryPrefix .. clientId, inflightPrefix .. clientId, bytesPrefix .. clientId, id, messagePrefix, packetField)
end

local i = 1
local op = 0
while i <= #fields do
  op = op + 1
  local kind = fields[i]
  if kind == 'E' then
    i = enqueue(i, op)
  elseif kind == 'S' then
    sent(fields[i + 1], fields[i + 2], fields[i + 3])
    i = i + 4
  elseif kind == 'R' then
    released(fields[i + 1], fields[i + 2])
    i = i + 3
  elseif kind == 'A' then
    local packetField = 'p:' .. fields[i + 2]
    local id = redis.call('HGET', inflightPrefix .. fields[i + 1], packetField)
    if id then dropFrom(fields[i + 1], id, packetField) end
    i = i + 3
  elseif kind == 'X' then
    dropFrom(fields[i + 1], fields[i + 2])
    i = i + 3
  else
    return redis.error_reply('unknown write ' .. tostring(kind))
  end
end
return lost
`)

/**
 * The queue in order, as flat groups of three: delivery JSON, inflight state ('' when queued), message ('' when
 * its key is gone), packed as one MessagePack array of strings (read by `PackedReply`): one reply for the client
 * to parse however long the queue, where a bulk string per field cost the broker a Buffer each. The delivery
 * and inflight hashes are read whole, once, rather than a field per entry.
 * KEYS: queue, delivery, inflight, queue bytes (unused). ARGV: message key prefix.
 */
export const LIST = new LuaScript(`
local function byField(key)
  local flat = redis.call('HGETALL', key)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end
local deliveries = byField(KEYS[2])
local inflight = byField(KEYS[3])
local out = {}
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[n + 1] = deliveries[id] or ''
  out[n + 2] = inflight['m:' .. id] or ''
  out[n + 3] = redis.call('HGET', ARGV[1] .. id, 'body') or ''
  n = n + 3
end
return cmsgpack.pack(out)
`)

/**
 * Removes a session and everything that belongs to it in one call, so that it is sent at once and applies in
 * call order: its subscriptions, its queue with every message reference, its inbound QoS 2 ids, its will and its
 * session data.
 * KEYS: sessions, subscriptions, incoming, subscribers, wills, queue, delivery, inflight, queue bytes, session data.
 * ARGV: client id, message key prefix.
 */
export const DELETE_SESSION = new LuaScript(`
local clientId = ARGV[1]
for _, id in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
  local messageKey = ARGV[2] .. id
  if redis.call('HINCRBY', messageKey, 'refs', -1) <= 0 then redis.call('DEL', messageKey) end
end
redis.call('HDEL', KEYS[1], clientId)
redis.call('HDEL', KEYS[5], clientId)
redis.call('SREM', KEYS[4], clientId)
redis.call('DEL', KEYS[2], KEYS[3], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10])
return 1
`)

/** Removes a client from the subscriber index once it has no subscription left. KEYS: subscriptions, subscribers. ARGV: client id. */
export const FORGET_IF_UNSUBSCRIBED = new LuaScript(`
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return 1
`)

/** The payload bytes of a stored message: its value less the 4-byte header length and the header. */
const PAYLOAD_BYTES = `
local function payloadBytes(value)
  return #value - 4 - struct.unpack('>I4', value)
end
`

/**
 * KEYS: retained hash, retained-topics zset, retained-bytes counter. ARGV: topic, value ('' clears the topic).
 * The counter is kept in step only once RETAINED_BYTES has created it.
 */
export const STORE_RETAINED = new LuaScript(`${PAYLOAD_BYTES}
local old = redis.call('HGET', KEYS[1], ARGV[1])
local delta = 0
if old then delta = -payloadBytes(old) end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
  delta = delta + payloadBytes(ARGV[2])
end
if delta ~= 0 and redis.call('EXISTS', KEYS[3]) == 1 then redis.call('INCRBY', KEYS[3], delta) end
return 1
`)

/** KEYS: retained hash, retained-bytes counter. Counts the stored payloads once, then reads the counter. */
export const RETAINED_BYTES = new LuaScript(`${PAYLOAD_BYTES}
local counted = redis.call('GET', KEYS[2])
if counted then return tonumber(counted) end
local total = 0
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do total = total + payloadBytes(value) end
redis.call('SET', KEYS[2], total)
return total
`)

/**
 * Deletes a retained message only if it is still the one that was read, so an expired message never takes a
 * newer one published meanwhile (by this broker or another) with it. KEYS: retained hash, retained-topics zset,
 * retained-bytes counter. ARGV: topic, the expired value.
 */
export const DELETE_RETAINED_IF_SAME = new LuaScript(`${PAYLOAD_BYTES}
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('DECRBY', KEYS[3], payloadBytes(ARGV[2])) end
return 1
`)

/** Every script, for SCRIPT LOAD ahead of the first EVALSHA on a connection. */
export const ALL_SCRIPTS: readonly LuaScript[] = [BATCH, LIST, DELETE_SESSION, FORGET_IF_UNSUBSCRIBED, STORE_RETAINED, RETAINED_BYTES, DELETE_RETAINED_IF_SAME]
