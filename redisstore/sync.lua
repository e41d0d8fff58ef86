-- One Sync of a ratellmiter quota, atomically: the same steps, in the same
-- order, as the memory store (memstore.go in the ratellmiter package).
-- Times are in milliseconds, seconds are Unix seconds.
--
-- KEYS[1] counts: hash of tickets per second
-- KEYS[2] state:  hash of the pause, the probe lease, the ramp, the learned
--                 limit, the last slot granted and the caps in force;
--                 'overload' is the epoch of the pause of overloads alone
--                 that is the quota's pause or its last one, 0 if neither
--                 is (a pause started by an earlier version, which does not
--                 write it, has another epoch)
-- KEYS[3] live:   sorted set of limiter ids by their last heartbeat, kept
--                 an hour (the live ones are those of the last LiveTTL)
-- KEYS[4] acks:   hash of each limiter's last numbered request applied:
--                 'seq:batch:sec:granted:slot:spacing' (without the last
--                 two when written by an earlier version)
-- KEYS[5] caps:   hash of the caps each limiter told with its last
--                 heartbeat: 'perSecond:perMinute:rampStart:rampStep',
--                 as sent; none for a limiter that told no caps
--
-- ARGV: id, now, sec, want, perSecond, perMinute, rampStart, rampStep,
-- epoch, wantProbe, probeTTL, liveTTL, setLearned, learned, the
-- incarnation the epoch was seen in, the incarnation to give a new state
-- (both decimal, below 2^53), seq and retry (decimal, below 2^53; 0
-- when not numbered), leaving (1 when the limiter is ending), then a
-- count and (second, n) pairs of used tickets, the same of returned
-- tickets, and a count and (kind, probeAt, overload) triples of events
-- (1 refused, 2 resumed; overload 1 when a refusal says its pause is one
-- of overloads alone).
--
-- Returns granted, notBefore, spacing, paused, probeAt, epoch, probe,
-- learned, live, window, incarnation, and the caps in force: perSecond,
-- perMinute, rampStart, rampStep (all 0 when none), for a numbered
-- request not applied because its seq is not above the last one applied
-- for its id, that last seq (else 0), and whether the pause, or the last
-- one, was of overloads alone (1) or not (0).
local kc, ks, kl, ka, kp = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id = ARGV[1]
local now, sec, want = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local perSec, perMin = tonumber(ARGV[5]), tonumber(ARGV[6])
-- A ramp issues at least one ticket a second, and adds at least one.
local rampStart, rampStep = math.max(1, tonumber(ARGV[7])), math.max(1, tonumber(ARGV[8]))
local seen = tonumber(ARGV[9])
local wantProbe, probeTTL, liveTTL = ARGV[10] == '1', tonumber(ARGV[11]), tonumber(ARGV[12])
local setLearned, learnedArg = ARGV[13] == '1', tonumber(ARGV[14])
local incSeen, incNew = ARGV[15], ARGV[16]
local seqArg, retryArg = ARGV[17], ARGV[18]
local seq, retry = tonumber(seqArg), tonumber(retryArg)
local leaving = ARGV[19] == '1'
local keep = 3600000 -- an hour without a sync forgets the quota

-- parseCaps reads caps written 'perSecond:perMinute:rampStart:rampStep',
-- a ramp's start and step at least 1; nil if they are not.
local function parseCaps(v)
  local a, b, c, d = string.match(v, '^(%-?%d+):(%-?%d+):(%-?%d+):(%-?%d+)$')
  if not a then return nil end
  return tonumber(a), tonumber(b), math.max(1, tonumber(c)), math.max(1, tonumber(d))
end

local st = redis.call('HMGET', ks, 'paused', 'probe_at', 'epoch', 'holder', 'lease_until',
  'learned', 'ramp_sec', 'ramping', 'last_slot', 'inc', 'caps', 'overload')
local paused = st[1] == '1'
local probeAt = tonumber(st[2] or '0')
local epoch = tonumber(st[3] or '0')
local holder = st[4] or ''
local leaseUntil = tonumber(st[5] or '0')
local learned = tonumber(st[6] or '0')
local rampSec = tonumber(st[7] or '0')
local ramping = st[8] == '1'
local lastSlot = tonumber(st[9] or '0')
local overload = tonumber(st[12] or '0')
-- A state without an incarnation is new: the quota's keys were lost.
local inc = st[10] or incNew
-- Whether the sender saw its epoch in this incarnation.
local known = incSeen == inc

-- The limiter's last numbered request, forgetting those of limiters
-- that have not synced for an hour.
-- A thousand at a time: unpack fails past a few thousand values.
local gone = redis.call('ZRANGEBYSCORE', kl, '-inf', now - keep)
if #gone > 0 then
  for j = 1, #gone, 1000 do
    redis.call('HDEL', ka, unpack(gone, j, math.min(j + 999, #gone)))
    redis.call('HDEL', kp, unpack(gone, j, math.min(j + 999, #gone)))
  end
  redis.call('ZREMRANGEBYSCORE', kl, '-inf', now - keep)
end
local ackSeq, ackBatch, ackSec, ackN, ackSlot, ackGap
local ack = redis.call('HGET', ka, id)
if not ack then ack = nil end -- HGET of a missing field gives false
if ack then
  local a, b, c, d, e, f = string.match(ack, '^(%d+):(%d+):(%-?%d+):(%d+):(%d+):(%d+)$')
  if not a then
    a, b, c, d = string.match(ack, '^(%d+):(%d+):(%-?%d+):(%d+)$')
  end
  ackSeq, ackBatch, ackSec, ackN = tonumber(a), b, tonumber(c), tonumber(d)
  ackSlot, ackGap = tonumber(e), tonumber(f)
end
-- A numbered request not above the last one applied came late, after a
-- later one: nothing of it is applied. One numbered as the last one is
-- that request sent again by a client that lost its reply: its reply
-- tells that request's grant again.
local stale = seq ~= 0 and ack ~= nil and seq <= ackSeq
local again = stale and seq == ackSeq and ackSlot ~= nil
if stale then want = 0 end

-- Heartbeat, with the limiter's caps. A limiter that is leaving is no
-- longer live from now on, and its caps are forgotten; its heartbeat is
-- kept, as long as any, for its last request's record.
local capsArg = ARGV[5] .. ':' .. ARGV[6] .. ':' .. ARGV[7] .. ':' .. ARGV[8]
local stated = perSec > 0 and perMin > 0
local keeps = stated and not leaving -- whether its caps are kept
-- raised: the limiter's caps went up in some field (or were withdrawn)
-- where they were as low as the least kept in the state, so that the
-- least over the live limiters may have gone up. Caps above the least in
-- every field were not the least, and going up does not change it.
local raised = false
local capsFrom, capsUntil, capsTTL, ca, cb, cc, cd = string.match(st[11] or '',
  '^(%-?%d+):(%-?%d+):(%d+):(%d+):(%d+):(%d+):(%d+)$')
capsFrom, capsUntil = tonumber(capsFrom), tonumber(capsUntil)
local function wasLeast(a, b, c, d)
  if not a or not ca or ca == '0' then return true end
  return a <= tonumber(ca) or b <= tonumber(cb) or c <= tonumber(cc) or d <= tonumber(cd)
end
if not stale then
  if leaving then
    redis.call('ZADD', kl, now - liveTTL, id)
  else
    redis.call('ZADD', kl, now, id)
  end
  local old = redis.call('HGET', kp, id)
  if not keeps then
    if old then
      redis.call('HDEL', kp, id)
      raised = wasLeast(parseCaps(old))
    end
  elseif old ~= capsArg then
    redis.call('HSET', kp, id, capsArg)
    if old then
      local a, b, c, d = parseCaps(old)
      raised = not a or ((perSec > a or perMin > b or rampStart > c or rampStep > d) and wasLeast(a, b, c, d))
    end
  end
end

-- The caps in force: the least of those the live limiters told with
-- their last heartbeat, and of the request's own. The state keeps them
-- ('caps': 'from:until:liveTTL:' and the caps, 0:0:0:0 for none) with
-- the times they hold for: from when they were read until the first of
-- the live limiters that told caps is no longer live, at that LiveTTL. So
-- the live limiters' caps are read only when those times have passed or
-- a limiter's caps went up: while every limiter's caps stay as they were
-- or go down, the least of the kept ones and the request's own are the
-- least over the live limiters. A heartbeat at or after 'from' outlives
-- 'until', at most LiveTTL after it, so a limiter that syncs meanwhile
-- does not bring it nearer.
local live
local mps, mpm, mrs, mrt = 0, 0, 0, 0
local function least(a, b, c, d)
  if mps == 0 then
    mps, mpm, mrs, mrt = a, b, c, d
  else
    mps, mpm, mrs, mrt = math.min(mps, a), math.min(mpm, b), math.min(mrs, c), math.min(mrt, d)
  end
end
if capsFrom and not raised and tonumber(capsTTL) == liveTTL and capsFrom <= now and now < capsUntil then
  live = redis.call('ZCOUNT', kl, '(' .. (now - liveTTL), '+inf')
  if ca ~= '0' then least(tonumber(ca), tonumber(cb), tonumber(cc), tonumber(cd)) end
else
  local ids = redis.call('ZRANGEBYSCORE', kl, '(' .. (now - liveTTL), '+inf', 'WITHSCORES')
  live = #ids / 2
  capsFrom, capsUntil = now, now + liveTTL
  local names = {}
  for j = 1, #ids, 2 do names[#names + 1] = ids[j] end
  -- A thousand at a time: unpack fails past a few thousand values.
  for j = 1, #names, 1000 do
    local caps = redis.call('HMGET', kp, unpack(names, j, math.min(j + 999, #names)))
    for k = 1, #caps do
      if caps[k] then
        local a, b, c, d = parseCaps(caps[k])
        if a and a > 0 and b > 0 then
          least(a, b, c, d)
          capsUntil = math.min(capsUntil, tonumber(ids[2 * (j + k - 1)]) + liveTTL)
        end
      end
    end
  end
end
-- What the state keeps: the request's own caps count only once recorded.
if keeps and not stale then least(perSec, perMin, rampStart, rampStep) end
local keptCaps = string.format('%d:%d:%d:%d:%d:%d:%d', capsFrom, capsUntil, liveTTL, mps, mpm, mrs, mrt)
if stated then least(perSec, perMin, rampStart, rampStep) end

local oldest = sec - 59
local function takeBack(s, n)
  local v = redis.call('HGET', kc, s)
  if v and s >= oldest and n > 0 then
    redis.call('HSET', kc, s, math.max(0, tonumber(v) - n))
  end
end
-- The batch of used and returned tickets and events: the request's own,
-- or, sent again, the one of the request that first carried it.
local batchArg = seqArg
if retry ~= 0 then
  batchArg = retryArg
  -- The reply of the last request applied was lost: its grant was never
  -- issued.
  if not stale and ack and ackSeq >= retry then takeBack(ackSec, ackN) end
end
local news = not stale and (seq == 0 or ack == nil or tonumber(batchArg) > tonumber(ackBatch))
if ack and tonumber(ackBatch) > tonumber(batchArg) then batchArg = ackBatch end

-- Tickets used without a lease, then tickets handed back.
local i = 20
local nUsed = tonumber(ARGV[i]); i = i + 1
for _ = 1, nUsed do
  local s, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1]); i = i + 2
  if news and s >= oldest and n > 0 then redis.call('HINCRBY', kc, s, n) end
end
local nRet = tonumber(ARGV[i]); i = i + 1
for _ = 1, nRet do
  local s, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1]); i = i + 2
  if news then takeBack(s, n) end
end

-- Events.
local function leasedToOther()
  return holder ~= '' and holder ~= id and leaseUntil > now
end
local nEv = tonumber(ARGV[i]); i = i + 1
if not news then nEv = 0 end
for _ = 1, nEv do
  local kind, at, over = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2] == '1'; i = i + 3
  if kind == 1 then
    if not paused then
      -- Else a straggler of a pause that is over.
      if not known or seen >= epoch then
        paused, probeAt, holder, leaseUntil = true, at, '', 0
        epoch = epoch + 1
        seen, known = epoch, true
        overload = 0
        if over then overload = epoch end
      end
    else
      -- A rate limit in the pause makes it one for the rate.
      if not over then overload = 0 end
      if holder == id then
        holder, leaseUntil, probeAt = '', 0, at
      elseif not leasedToOther() then
        probeAt = math.max(probeAt, at)
      end
    end
  elseif kind == 2 then
    if paused and known and seen == epoch and not leasedToOther() then
      paused, holder, leaseUntil = false, '', 0
      rampSec, ramping = sec, true
      epoch = epoch + 1
      seen, known = epoch, true
    end
  end
end

-- The learned limit.
if not stale and setLearned then learned = math.max(0, learnedArg) end

-- The window, forgetting seconds that left it.
local counts, window = {}, 0
local all = redis.call('HGETALL', kc)
for j = 1, #all, 2 do
  local s, n = tonumber(all[j]), tonumber(all[j + 1])
  if s < oldest - 1 then
    redis.call('HDEL', kc, all[j])
  else
    counts[s] = n
    if s >= oldest then window = window + n end
  end
end

-- The probe lease, while the request's second has room for one more
-- ticket under the caps in force: the canary its holder may send is a
-- ticket of that second or a later one, in which nothing is granted while
-- paused.
if not stale and wantProbe and paused and now >= probeAt and not leasedToOther()
    and (mps == 0 or ((counts[sec] or 0) < mps and window < mpm)) then
  holder, leaseUntil = id, now + probeTTL
end

-- The grant, on slots spread across the second.
local granted, slot, gap = 0, 0, 0
if not paused and want > 0 and stated then
  local allow = mps
  if ramping then
    local prev = 0
    if sec - 1 >= rampSec then prev = counts[sec - 1] or 0 end
    allow = math.min(math.max(mrs, prev + mrt), allow)
  end
  local n = math.min(want, allow - (counts[sec] or 0), mpm - window)
  gap = math.floor(1000 / allow)
  slot = math.max(now, sec * 1000)
  if lastSlot > 0 then slot = math.max(slot, lastSlot + gap) end
  local last = sec * 1000 + 999
  if slot > last then
    n = 0
  elseif gap > 0 then
    n = math.min(math.floor((last - slot) / gap) + 1, n)
  end
  if n > 0 then
    granted = n
    redis.call('HINCRBY', kc, sec, n)
    lastSlot = slot + (n - 1) * gap
    if ramping and (counts[sec] or 0) + n >= mps then ramping = false end
  else
    slot, gap = 0, 0
  end
end

if seq ~= 0 and not stale then
  redis.call('HSET', ka, id, seqArg .. ':' .. batchArg .. ':' .. sec .. ':' .. granted .. ':' .. slot .. ':' .. gap)
end

local function flag(b) if b then return '1' end return '0' end
redis.call('HSET', ks, 'paused', flag(paused), 'probe_at', probeAt, 'epoch', epoch,
  'holder', holder, 'lease_until', leaseUntil, 'learned', learned,
  'ramp_sec', rampSec, 'ramping', flag(ramping), 'last_slot', lastSlot, 'inc', inc,
  'caps', keptCaps, 'overload', overload)
redis.call('PEXPIRE', kc, keep)
redis.call('PEXPIRE', ks, keep)
redis.call('PEXPIRE', kl, keep)
redis.call('PEXPIRE', ka, keep)
redis.call('PEXPIRE', kp, keep)

local probe = 0
if paused and holder == id and leaseUntil > now then probe = 1 end
window = window + granted
if again then granted, slot, gap = ackN, ackSlot, ackGap end
-- A request not applied is told the last Seq applied for its ID.
local lastSeq = 0
if stale then lastSeq = ackSeq end
-- The pause, or the last one, was of overloads alone if 'overload' names
-- its epoch: the epoch while paused, the one before it once resumed.
local pauseEpoch = epoch
if not paused then pauseEpoch = epoch - 1 end
local overloaded = 0
if overload ~= 0 and overload == pauseEpoch then overloaded = 1 end
return {granted, slot, gap, paused and 1 or 0, probeAt, epoch, probe, learned, live, window,
  tonumber(inc), mps, mpm, mrs, mrt, lastSeq, overloaded}
