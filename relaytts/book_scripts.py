"""The Lua scripts that change a book job in one atomic step (docs/books.md): start and finish a
segment (workers), re-roll a segment and cancel the job (gateway), fail a job that cannot be planned.

Each keeps the book's counters consistent with its segments' statuses: a segment is counted once
when it ends, uncounted when it is re-rolled, and the script that counts the last one ends the book.
A take is fenced by its ``take_id``: a script about a take that is no longer the segment's current
one changes nothing. Every change appends an event to the book's events stream (what ``WatchJob``
tails) carrying the book's counters after the change, so a watcher never needs a second read.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CANCEL_BOOK", "END_BOOK", "FINISH_SEGMENT", "OPEN_BOOKS_PROGRESS", "REROLL_SEGMENT", "START_SEGMENT"]

# book_event(book, events, maxlen, ttl, kind, now, extra): XADD the book's counters (+ extra pairs).
# segment_pairs(segs, prefix, chapter, segment): the event fields describing one segment.
_HELPERS = """
local function book_event(book, events, maxlen, ttl, kind, now, extra)
  local names = {'status', 'segments_total', 'segments_done', 'segments_failed', 'chars_total', 'chars_done',
                 'audio_seconds_done', 'run_started_at', 'run_chars', 'run_audio', 'error'}
  local values = redis.call('HMGET', book, unpack(names))
  local args = {'kind', kind, 'at', now}
  for i, name in ipairs(names) do
    args[#args + 1] = name
    args[#args + 1] = values[i] or ''
  end
  for i = 1, #extra do args[#args + 1] = extra[i] end
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', unpack(args))
  redis.call('EXPIRE', events, ttl)
end
local function segment_pairs(segs, prefix, chapter, segment)
  local names = {'status', 'take', 'take_id', 'seed', 'tokens', 'seconds', 'stop_reason', 'error'}
  local keys = {}
  for i, name in ipairs(names) do keys[i] = prefix .. name end
  local v = redis.call('HMGET', segs, unpack(keys))
  return {'chapter', chapter, 'segment', segment, 'seg_status', v[1] or '', 'take', v[2] or '0',
          'take_id', v[3] or '', 'seed', v[4] or '0', 'tokens', v[5] or '0', 'seconds', v[6] or '0',
          'stop_reason', v[7] or '', 'seg_error', v[8] or ''}
end
"""

# KEYS[1] book hash, KEYS[2] segments hash
# ARGV[1] the segment's field prefix, ARGV[2] take id, ARGV[3] now (unix s), ARGV[4] TTL (s)
# Marks the segment running and the book running (the run's speed is measured from its first start).
# Returns 1, or 0 when the take is not the segment's current one (re-rolled meanwhile).
START_SEGMENT: Final = """
local p = ARGV[1]
if redis.call('HGET', KEYS[2], p .. 'take_id') ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[2], p .. 'status') == 'queued' then
  redis.call('HSET', KEYS[2], p .. 'status', 'running')
end
redis.call('HSETNX', KEYS[1], 'started_at', ARGV[3])
if not redis.call('HGET', KEYS[1], 'run_started_at') then
  local done = redis.call('HMGET', KEYS[1], 'chars_done', 'audio_seconds_done')
  redis.call('HSET', KEYS[1], 'run_started_at', ARGV[3], 'run_chars', done[1] or '0', 'run_audio', done[2] or '0')
end
if redis.call('HGET', KEYS[1], 'status') == 'queued' then redis.call('HSET', KEYS[1], 'status', 'running') end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

# KEYS[1] book hash, KEYS[2] segments hash, KEYS[3] events stream, KEYS[4] open books (sorted set)
# ARGV[1] prefix, ARGV[2] take id, ARGV[3] status (done/failed/cancelled), ARGV[4] tokens,
# ARGV[5] audio seconds, ARGV[6] stop reason (proto name), ARGV[7] error, ARGV[8] now, ARGV[9] TTL,
# ARGV[10] events MAXLEN, ARGV[11] chapter, ARGV[12] segment, ARGV[13] the segment's name for messages,
# ARGV[14] book id
# Returns -1 (stale take: nothing changed), 0 (this take was already counted), 1 (counted),
# 2 (counted, and it was the book's last unfinished segment: the book ended).
FINISH_SEGMENT: Final = _HELPERS + """
local p = ARGV[1]
if redis.call('HGET', KEYS[2], p .. 'take_id') ~= ARGV[2] then return -1 end
local old = redis.call('HGET', KEYS[2], p .. 'status')
if old == 'done' or old == 'failed' or old == 'cancelled' then return 0 end
redis.call('HSET', KEYS[2], p .. 'status', ARGV[3], p .. 'tokens', ARGV[4], p .. 'seconds', ARGV[5],
           p .. 'stop_reason', ARGV[6], p .. 'error', ARGV[7])
if ARGV[3] == 'done' then
  redis.call('HINCRBY', KEYS[1], 'segments_done', 1)
  redis.call('HINCRBY', KEYS[1], 'tokens_done', ARGV[4])
  redis.call('HINCRBYFLOAT', KEYS[1], 'audio_seconds_done', ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'chars_done', redis.call('HGET', KEYS[2], p .. 'chars') or 0)
elseif ARGV[3] == 'failed' then
  redis.call('HINCRBY', KEYS[1], 'segments_failed', 1)
  redis.call('HSET', KEYS[1], 'last_error', ARGV[13] .. ': ' .. ARGV[7])
end
local result = 1
local b = redis.call('HMGET', KEYS[1], 'status', 'segments_total', 'segments_done', 'segments_failed', 'planned',
                     'last_error')
if b[5] == '1' and (b[1] == 'queued' or b[1] == 'running') then
  local done, failed = tonumber(b[3] or 0), tonumber(b[4] or 0)
  if done + failed >= tonumber(b[2] or 0) then
    if failed > 0 then
      redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[8],
                 'error', failed .. ' segment(s) failed; the last: ' .. (b[6] or ''))
    else
      redis.call('HSET', KEYS[1], 'status', 'done', 'finished_at', ARGV[8])
    end
    redis.call('ZREM', KEYS[4], ARGV[14])
    result = 2
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[9])
redis.call('EXPIRE', KEYS[2], ARGV[9])
book_event(KEYS[1], KEYS[3], ARGV[10], ARGV[9], 'segment', ARGV[8], segment_pairs(KEYS[2], p, ARGV[11], ARGV[12]))
return result
"""

# KEYS[1] book hash, KEYS[2] segments hash, KEYS[3] events stream, KEYS[4] open books (sorted set)
# ARGV[1] prefix, ARGV[2] new take id, ARGV[3] new seed, ARGV[4] now, ARGV[5] TTL, ARGV[6] events MAXLEN,
# ARGV[7] chapter, ARGV[8] segment, ARGV[9] book id
# Uncounts the segment's current take, makes the new take current (queued) and reopens a finished book
# (back among the open books).
# Returns {code, old take id}: code ok, missing (no such job or segment), cancelled, or unplanned.
REROLL_SEGMENT: Final = _HELPERS + """
local p = ARGV[1]
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', ''} end
if status == 'cancelled' then return {'cancelled', ''} end
if redis.call('HGET', KEYS[1], 'planned') ~= '1' then return {'unplanned', ''} end
local s = redis.call('HMGET', KEYS[2], p .. 'status', p .. 'take_id', p .. 'take', p .. 'tokens', p .. 'seconds',
                     p .. 'chars')
if not s[1] then return {'missing', ''} end
if s[1] == 'done' then
  redis.call('HINCRBY', KEYS[1], 'segments_done', -1)
  redis.call('HINCRBY', KEYS[1], 'tokens_done', -tonumber(s[4] or 0))
  redis.call('HINCRBYFLOAT', KEYS[1], 'audio_seconds_done', -tonumber(s[5] or 0))
  redis.call('HINCRBY', KEYS[1], 'chars_done', -tonumber(s[6] or 0))
elseif s[1] == 'failed' then
  redis.call('HINCRBY', KEYS[1], 'segments_failed', -1)
end
redis.call('HSET', KEYS[2], p .. 'status', 'queued', p .. 'take', tonumber(s[3] or 0) + 1, p .. 'take_id', ARGV[2],
           p .. 'seed', ARGV[3], p .. 'tokens', 0, p .. 'seconds', 0, p .. 'stop_reason', '', p .. 'error', '')
if status == 'done' or status == 'failed' then
  redis.call('HSET', KEYS[1], 'status', 'running')
  redis.call('HDEL', KEYS[1], 'finished_at', 'error', 'run_started_at')
  redis.call('ZADD', KEYS[4], redis.call('HGET', KEYS[1], 'created_at') or ARGV[4], ARGV[9])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
book_event(KEYS[1], KEYS[3], ARGV[6], ARGV[5], 'rerolled', ARGV[4], segment_pairs(KEYS[2], p, ARGV[7], ARGV[8]))
return {'ok', s[2] or ''}
"""

# KEYS[1] book hash, KEYS[2] book cancel key, KEYS[3] events stream, KEYS[4] open books (sorted set)
# ARGV[1] now, ARGV[2] TTL, ARGV[3] events MAXLEN, ARGV[4] book id
# Returns 1 (cancelled now), 0 (had already ended), -1 (no such job).
CANCEL_BOOK: Final = _HELPERS + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status == 'done' or status == 'failed' or status == 'cancelled' then return 0 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
book_event(KEYS[1], KEYS[3], ARGV[3], ARGV[2], 'cancelled', ARGV[1], {})
return 1
"""

# KEYS[1] book hash, KEYS[2] events stream, KEYS[3] open books (sorted set)
# ARGV[1] error, ARGV[2] now, ARGV[3] TTL, ARGV[4] events MAXLEN, ARGV[5] book id
# Fails a job that has not ended (a book that cannot be planned, or could not be enqueued).
# Returns 1, or 0 when it had already ended.
END_BOOK: Final = _HELPERS + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'done' or status == 'failed' or status == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[2], 'error', ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[3])
book_event(KEYS[1], KEYS[2], ARGV[4], ARGV[3], 'failed', ARGV[2], {})
return 1
"""

# KEYS[1] open books (sorted set); ARGV[1] the book hash key prefix (``keys.book_key("")``)
# Reads the open books' progress for the metrics. The scripts that end a book remove it from the set; this
# one drops what is left over (a book that expired while open), in the same step as the read so a re-roll
# that reopens a book cannot be lost between the two. (The book hash
# keys are built here, not passed: fine on one Redis, as every relaytts key lives on one.)
# Returns {queued books, running books, segments total, done, failed, audio seconds done (a string)}.
OPEN_BOOKS_PROGRESS: Final = """
local queued, running, total, done, failed, audio = 0, 0, 0, 0, 0, 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local b = redis.call('HMGET', ARGV[1] .. id, 'status', 'segments_total', 'segments_done', 'segments_failed',
                       'audio_seconds_done')
  if b[1] == 'queued' or b[1] == 'running' then
    if b[1] == 'queued' then queued = queued + 1 else running = running + 1 end
    total = total + tonumber(b[2] or 0)
    done = done + tonumber(b[3] or 0)
    failed = failed + tonumber(b[4] or 0)
    audio = audio + tonumber(b[5] or 0)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return {queued, running, total, done, failed, tostring(audio)}
"""
