"""Record headers as bytes for the embedded log's ``headers`` column (Kafka carries them natively).

Format: for each header, ``u16 name length, name (UTF-8), u32 value length, value``. Tiny and
unambiguous, so header values stay arbitrary bytes, as in Kafka.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_NAME = struct.Struct(">H")
_VALUE = struct.Struct(">I")


def encode_headers(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    """``None`` for no headers (the common case), else the packed headers."""
    if not headers:
        return None
    parts: list[bytes] = []
    for name, value in headers:
        raw = name.encode()
        parts += [_NAME.pack(len(raw)), raw, _VALUE.pack(len(value)), bytes(value)]
    return b"".join(parts)


def decode_headers(blob: bytes | None) -> tuple[tuple[str, bytes], ...]:
    """Inverse of :func:`encode_headers`; raises ValueError on a truncated blob."""
    if not blob:
        return ()
    out: list[tuple[str, bytes]] = []
    pos, end = 0, len(blob)
    while pos < end:
        (n,) = _NAME.unpack_from(blob, pos)
        name = blob[pos + 2:pos + 2 + n]
        pos += 2 + n
        (m,) = _VALUE.unpack_from(blob, pos)
        value = blob[pos + 4:pos + 4 + m]
        pos += 4 + m
        if len(name) != n or len(value) != m:
            raise ValueError("truncated record headers")
        out.append((name.decode(), value))
    return tuple(out)
