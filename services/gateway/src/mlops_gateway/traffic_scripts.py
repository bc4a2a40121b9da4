"""The Lua scripts that write a batch of traffic to Redis, and the packing of their arguments.

redis-py packs every argument of a command in Python: sent as arguments, a batch's ~9 values per
entry (and 2 per prediction-id index field) cost the gateway more than encoding them did. So each
script takes a batch's values as one string of length-prefixed values (:func:`pack_values`,
:func:`pack_pairs`: a 4-byte big-endian length, then the bytes), which Lua reads back with
``struct.unpack``. The scripts know nothing of the entry layout: names and values come from
``TrafficEntry.encode``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

#: ``KEYS[1]`` the stream; ``ARGV``: the MAXLEN to trim to, the number ``k`` of fields per
#: entry, their ``k`` names, then one string holding every entry's ``k`` values, each a 4-byte
#: big-endian length and its bytes (:func:`pack_values`). One argument for the whole batch, not
#: ``k`` per entry: redis-py packs every argument in Python, which cost more than the entries'
#: encoding. It knows nothing of the entry layout: names and values come from
#: ``TrafficEntry.encode``. Returns the number of entries added.
APPEND_ENTRIES = """
local k = tonumber(ARGV[2])
local values = ARGV[3 + k]
local fields = {}
for i = 1, k do fields[2 * i - 1] = ARGV[2 + i] end
local pos, added, size = 1, 0, #values
while pos <= size do
  for i = 1, k do
    local n
    n, pos = struct.unpack('>I4', values, pos)
    fields[2 * i] = string.sub(values, pos, pos + n - 1)
    pos = pos + n
  end
  redis.call('XADD', KEYS[1], '*', unpack(fields))
  added = added + 1
end
redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])
return added
"""
#: ``KEYS[1]`` an hourly hash of the prediction-id index; ``ARGV``: the time it expires at, then
#: one string of field, value, field, value… packed as for :data:`APPEND_ENTRIES`. HSETs them
#: (a few hundred at a time: Lua's ``unpack`` has a limit), then EXPIREAT. Returns the number of
#: fields written.
INDEX_ENTRIES = """
local values = ARGV[2]
local pairs, written, pos, size = {}, 0, 1, #values
while pos <= size do
  local n
  n, pos = struct.unpack('>I4', values, pos)
  pairs[#pairs + 1] = string.sub(values, pos, pos + n - 1)
  pos = pos + n
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


def pack_values(entries: Sequence[dict[str, bytes | str]]) -> bytes:
    """Every value of ``entries``, in order, each as a 4-byte big-endian length and its bytes
    (text as UTF-8): the one string :data:`APPEND_ENTRIES` reads them from."""
    packed = bytearray()
    for fields in entries:
        _pack(packed, fields.values())
    return bytes(packed)


def pack_pairs(fields: dict[str, str]) -> bytes:
    """``fields`` as field, value, field, value…, packed as :func:`pack_values` packs (what
    :data:`INDEX_ENTRIES` reads)."""
    packed = bytearray()
    for name, value in fields.items():
        _pack(packed, (name, value))
    return bytes(packed)


def _pack(packed: bytearray, values: Iterable[bytes | str]) -> None:
    for value in values:
        data = value if isinstance(value, bytes) else value.encode()
        packed += _LENGTH.pack(len(data))
        packed += data
