"""The Lua scripts that write a batch of traffic to Redis, and the packing of their arguments.

redis-py packs every argument of a command in Python: sent as arguments, a batch's ~9 values per
entry (and 2 per prediction-id index field) cost the gateway more than encoding them did. So each
script takes a batch's values a few strings at a time: one per field of the traffic entries
(:data:`APPEND_COLUMNS`), one for the index's fields and values (:data:`INDEX_ENTRIES`), which
Lua splits back (``string.find``, ``struct.unpack``). The scripts know nothing of the entry
layout: names and values come from the encoder (:mod:`mlops_gateway.traffic_records`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from itertools import chain

#: How a column's values are joined: by :data:`SEPARATOR`; length-prefixed (a 4-byte big-endian
#: length, then the bytes); or back to back, each ``FIXED<size>`` bytes (``f1024``).
LIST, PACKED, FIXED = "list", "packed", "f"
#: Joins the values of a ``LIST`` column: the ASCII unit separator, which no id, version or
#: number holds (a column whose values do goes ``PACKED``).
SEPARATOR = "\x1f"

#: ``KEYS[1]`` the stream; ``ARGV``: the MAXLEN to trim to, the number ``n`` of entries, the
#: number ``k`` of fields, then per field its name, its kind (:data:`LIST`, :data:`PACKED`,
#: ``FIXED<size>``) and its ``n`` values as one string
#: (:func:`~mlops_gateway.traffic_records.encode_columns`). XADDs entry ``i`` with every field's
#: ``i``-th value, then trims. Returns the number of entries added. It knows nothing of the
#: entry layout: names and values come from the encoder.
APPEND_COLUMNS = """
local n, k = tonumber(ARGV[2]), tonumber(ARGV[3])
local function column(kind, text)
  local out, pos = {}, 1
  if kind == 'list' then
    for i = 1, n do
      local stop = string.find(text, '\\31', pos, true) or (#text + 1)
      out[i] = string.sub(text, pos, stop - 1)
      pos = stop + 1
    end
  elseif kind == 'packed' then
    for i = 1, n do
      local size
      size, pos = struct.unpack('>I4', text, pos)
      out[i] = string.sub(text, pos, pos + size - 1)
      pos = pos + size
    end
  else
    local size = tonumber(string.sub(kind, 2))
    if #text ~= size * n then return nil end
    for i = 1, n do out[i] = string.sub(text, (i - 1) * size + 1, i * size) end
  end
  return out
end
local names, columns = {}, {}
for c = 1, k do
  local base = 4 + 3 * (c - 1)
  names[c] = ARGV[base]
  columns[c] = column(ARGV[base + 1], ARGV[base + 2])
  if columns[c] == nil then
    return redis.error_reply('traffic column ' .. ARGV[base] .. ' does not hold ' .. n .. ' values')
  end
end
local fields = {}
for c = 1, k do fields[2 * c - 1] = names[c] end
for i = 1, n do
  for c = 1, k do fields[2 * c] = columns[c][i] end
  redis.call('XADD', KEYS[1], '*', unpack(fields))
end
redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])
return n
"""

#: ``KEYS[1]`` an hourly hash of the prediction-id index; ``ARGV``: the time it expires at, the
#: kind of the next string (:data:`LIST` or :data:`PACKED`), then field, value, field, value…
#: as one string (:func:`index_args`). HSETs them (a few hundred at a time: Lua's ``unpack``
#: has a limit), then EXPIREAT. Returns the number of fields written.
INDEX_ENTRIES = """
local kind, text = ARGV[2], ARGV[3]
local pairs, written, pos, size = {}, 0, 1, #text
while pos <= size do
  if kind == 'list' then
    local stop = string.find(text, '\\31', pos, true) or (size + 1)
    pairs[#pairs + 1] = string.sub(text, pos, stop - 1)
    pos = stop + 1
  else
    local n
    n, pos = struct.unpack('>I4', text, pos)
    pairs[#pairs + 1] = string.sub(text, pos, pos + n - 1)
    pos = pos + n
  end
  if #pairs == 500 or pos > size then
    redis.call('HSET', KEYS[1], unpack(pairs))
    written = written + #pairs / 2
    pairs = {}
  end
end
redis.call('EXPIREAT', KEYS[1], ARGV[1])
return written
"""
_LENGTH = struct.Struct(">I")


def pack_strings(values: Iterable[bytes | str]) -> bytes:
    """``values`` length-prefixed, one after another: a 4-byte big-endian length, then the
    bytes (text as UTF-8)."""
    packed = bytearray()
    for value in values:
        data = value if isinstance(value, bytes) else value.encode()
        packed += _LENGTH.pack(len(data))
        packed += data
    return bytes(packed)


def joined(values: list[str]) -> list[bytes | str]:
    """The kind and the one string a script reads ``values`` from: joined by
    :data:`SEPARATOR` (:data:`LIST`), or length-prefixed when one of them holds it
    (:data:`PACKED`)."""
    text = SEPARATOR.join(values)
    if text.count(SEPARATOR) == len(values) - 1:
        return [LIST, text]
    return [PACKED, pack_strings(values)]


def index_args(fields: dict[str, str]) -> list[bytes | str]:
    """What :data:`INDEX_ENTRIES` reads ``fields`` from: field, value, field, value…
    (:func:`joined`)."""
    return joined(list(chain.from_iterable(fields.items())))
