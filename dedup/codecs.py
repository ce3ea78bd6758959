"""Fragment codecs: how a fragment's bytes are stored in its pack record.

Codec 0 stores the raw bytes. The codec byte lives in every record and index
row, so data written under one policy stays readable under any other.
"""

from __future__ import annotations

RAW = 0


class UnknownCodec(Exception):
    pass


def decode(codec: int, stored: memoryview) -> memoryview | bytes:
    """The raw fragment from its stored form."""
    if codec == RAW:
        return stored
    raise UnknownCodec(codec)
