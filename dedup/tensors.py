"""Checkpoint formats: where the tensors of a body lie, read from its bytes as
they stream in, and the fragment cuts that follow from it.

Two formats are understood, from their layout alone (torch is never imported,
nothing is unpickled):

- safetensors: a little-endian u64 ``n``, ``n`` bytes of JSON naming each
  tensor's ``data_offsets`` (relative to the end of the header), the data;
- PyTorch zip checkpoints (``torch.save``): a zip whose stored records
  ``.../data/<key>`` hold the tensor storages. torch writes each local header
  with a data descriptor after the data (sizes 0 in the header), so a
  record's end is found by its descriptor: ``PK\\x07\\x08``, CRC, then the
  record's size, which must equal the bytes since the record's start.

A body of either format is cut at tensor boundaries: a tensor becomes pieces
of ``max_fragment / 2`` bytes counted from its first byte (the last one
shorter), so an unchanged tensor is the same fragments wherever it lies, and a
changed one lines up, piece by piece, with its namesake in an earlier body.
The bytes between tensors (headers, the pickle, the zip directory) are cut by
FastCDC. Anything else, and any header that does not hold together
(truncated, overlapping or unsorted offsets, a compressed record, sizes that
do not match), falls back to FastCDC from where the doubt began: the layout
only chooses cut points, every fragment is still named by its own hash, so a
lying header can cost dedup, never correctness.

A multipart upload's part other than the first starts in the middle of a
file: for those the cutter looks for the first torch zip record header in the
part's first buffer and reads the layout from there (a safetensors file has
one header, at the start of part 1: its later parts are cut by FastCDC).

The cutter keeps the ingest pipeline's rules: every fragment is at most
``max_fragment`` bytes, and the bytes left uncut at the end of a buffer (the
carry, copied into the next one) are never more than ``max_fragment``.
"""

from __future__ import annotations

import bisect
import json
import struct
from dataclasses import dataclass

import blake3

from dedup.chunking import ChunkerParams, cut_points

UNKNOWN = 0
SAFETENSORS = 1
TORCH_ZIP = 2
FORMAT_NAMES = {UNKNOWN: "other", SAFETENSORS: "safetensors", TORCH_ZIP: "torch-zip"}

MAX_HEADER = 16 * 1024 * 1024  # a safetensors header longer than this is not trusted
MAX_TENSORS = 1 << 20
LOCAL = struct.Struct("<IHHHHHIIIHH")  # zip local file header (30 bytes)
LOCAL_SIG = 0x04034B50
CENTRAL_SIG = b"PK\x01\x02"
DESCRIPTOR_SIG = b"PK\x07\x08"
DESCRIPTOR_MAX = 24  # zip64 descriptor: sig, crc, 8-byte sizes
HAS_DESCRIPTOR = 0x08


@dataclass(frozen=True, slots=True)
class Tensor:
    """One tensor's bytes [start, end) in the body; ``name``: the first 8
    bytes of the BLAKE3 of its name (all a base lookup needs)."""

    name: bytes
    start: int
    end: int


def name_hash(name: str) -> bytes:
    return blake3.blake3(name.encode("utf-8", "surrogatepass")).digest()[:8]


@dataclass(slots=True)
class _Region:
    start: int
    end: int | None  # None: not known yet
    tensor: Tensor | None  # None: cut by FastCDC


class Cutter:
    """Cut points of one body, called with its buffers in order (each starts
    where the previous call's cuts ended: ``base`` is its absolute offset)."""

    def __init__(self, params: ChunkerParams, resync: bool = False) -> None:
        """``resync``: the body may start anywhere in a file (a multipart
        upload's part): look for a torch zip record header in its first
        buffer and read the layout from there."""
        self.params = params
        self.resync = resync
        self.piece = max(1, params.max_size // 2)
        self.format = UNKNOWN
        self.tensors: list[Tensor] = []
        self._starts: list[int] = []
        self._regions: list[_Region] = []
        self._decided = False
        self._zip_next: int | None = None  # absolute offset of the next zip header to read
        self._open: Tensor | None = None  # a zip record whose end is still to find
        self._scan = 0  # where the search for its descriptor goes on

    # -- public ----------------------------------------------------------------
    def cut(self, view: memoryview, base: int, final: bool) -> tuple[list[int], int]:
        """(ends relative to ``view``, consumed), as :func:`dedup.chunking.cut_points`."""
        if not len(view):
            return [], 0
        if not self._decided:
            self._decide(view, final)
        if self.format == TORCH_ZIP:
            self._walk_zip(view, base, final)
        ends = self._emit(view, base, final)
        if final:  # a layout that promised more than the body holds keeps what it holds
            size = base + len(view)
            self.tensors = [t for t in self.tensors if t.end <= size]
            self._starts = [t.start for t in self.tensors]
        return _bounded(ends, len(view), self.params.max_size, final)

    def tensor_at(self, offset: int) -> Tensor | None:
        """The tensor whose bytes hold absolute ``offset``, if any."""
        i = bisect.bisect_right(self._starts, offset) - 1
        if i >= 0 and self.tensors[i].start <= offset < self.tensors[i].end:
            return self.tensors[i]
        return None

    # -- deciding the format ---------------------------------------------------
    def _decide(self, view: memoryview, final: bool) -> None:
        self._decided = True
        head = bytes(view[:4])
        if head == b"PK\x03\x04":
            self.format = TORCH_ZIP
            self._regions.append(_Region(0, None, None))
            self._zip_next = 0
            return
        tensors = safetensors_layout(view)
        if tensors is None:
            self._regions.append(_Region(0, None, None))
            at = find_tensor_record(view, self.params.max_size // 2) if self.resync else None
            if at is not None:
                self.format = TORCH_ZIP
                self._zip_next = at
            return
        self.format = SAFETENSORS
        pos = 0
        for t in tensors:
            if t.start > pos:
                self._regions.append(_Region(pos, t.start, None))
            self._add_tensor(t)
            self._regions.append(_Region(t.start, t.end, t))
            pos = t.end
        self._regions.append(_Region(pos, None, None))

    def _add_tensor(self, t: Tensor) -> None:
        if t.end > t.start:
            self.tensors.append(t)
            self._starts.append(t.start)

    # -- torch zip, as it streams ------------------------------------------------
    def _walk_zip(self, view: memoryview, base: int, final: bool) -> None:
        limit = base + len(view)
        while True:
            if self._open is not None:
                if not self._find_end(view, base):
                    return
                continue
            at = self._zip_next
            if at is None:
                return
            if at + 4 > limit:
                if final:
                    self._give_up(at)
                return
            sig = bytes(view[at - base : at - base + 4])
            if sig == CENTRAL_SIG:  # the directory: FastCDC to the end
                self._zip_next = None
                return
            if at + LOCAL.size > limit:
                if final:
                    self._give_up(at)
                return
            (magic, _ver, flags, method, _t, _d, _crc, csize, _usize, nlen,
             xlen) = LOCAL.unpack_from(view, at - base)
            data = at + LOCAL.size + nlen + xlen
            if magic != LOCAL_SIG or nlen + xlen > self.params.max_size // 2:
                self._give_up(at)
                return
            if data > limit:
                if final:
                    self._give_up(at)
                return
            name = bytes(view[at - base + LOCAL.size : at - base + LOCAL.size + nlen]).decode("utf-8", "replace")
            if not flags & HAS_DESCRIPTOR:
                if csize == 0xFFFFFFFF:  # zip64 sizes in an extra field: not read here
                    self._give_up(at)
                    return
                end = data + csize
                if "/data/" in name and method == 0:
                    self._zip_tensor(Tensor(name_hash(name), data, end), end)
                self._zip_next = end
                continue
            if len(self.tensors) >= MAX_TENSORS:
                self._give_up(at)
                return
            # the end comes with the descriptor; records that are not stored
            # tensors are found the same way and stay in the FastCDC region
            self._open = Tensor(name_hash(name) if "/data/" in name and method == 0 else b"", data, data)
            self._scan = data

    def _zip_tensor(self, t: Tensor, end: int) -> None:
        gap = self._regions[-1]
        if gap.tensor is not None or gap.end is not None or gap.start > t.start or not t.name:
            self._regions.append(_Region(end, None, None))
            return
        if t.start > gap.start:
            gap.end = t.start
        else:
            self._regions.pop()
        self._add_tensor(t)
        self._regions.append(_Region(t.start, end, t))
        self._regions.append(_Region(end, None, None))

    def _find_end(self, view: memoryview, base: int) -> bool:
        """Look for the open record's descriptor; True when found."""
        rec = self._open
        assert rec is not None
        limit = base + len(view)
        data = bytes(view)  # find() over bytes is C-fast
        pos = max(self._scan, base)
        while True:
            i = data.find(DESCRIPTOR_SIG, pos - base)
            if i < 0 or base + i + DESCRIPTOR_MAX > limit:
                self._scan = max(pos, limit - DESCRIPTOR_MAX) if i < 0 else base + i
                if rec.name and not self._regions[-1].tensor and self._regions[-1].start <= rec.start:
                    self._start_open_tensor(rec)
                return False
            end = base + i
            size32 = struct.unpack_from("<I", data, i + 8)[0]
            size64 = struct.unpack_from("<Q", data, i + 8)[0]
            if end - rec.start in (size32, size64):
                desc = 16 if end - rec.start == size32 else 24
                self._close_record(rec, end)
                self._open = None
                self._zip_next = end + desc
                return True
            pos = base + i + 1

    def _start_open_tensor(self, rec: Tensor) -> None:
        """A tensor record whose end is still unknown: its pieces can be cut as
        they arrive (only those that end before the descriptor may start)."""
        gap = self._regions[-1]
        if rec.start > gap.start:
            gap.end = rec.start
        else:
            self._regions.pop()
        self._regions.append(_Region(rec.start, None, rec))

    def _close_record(self, rec: Tensor, end: int) -> None:
        last = self._regions[-1]
        if last.tensor is rec:
            last.end = end
            t = Tensor(rec.name, rec.start, end)
            last.tensor = t
            self._add_tensor(t)
            self._regions.append(_Region(end, None, None))
            return
        if rec.name:
            self._zip_tensor(Tensor(rec.name, rec.start, end), end)

    def _give_up(self, at: int) -> None:
        """Not a layout this module trusts from ``at`` on: FastCDC from there."""
        self._zip_next = None
        self._open = None
        last = self._regions[-1]
        if last.tensor is not None and last.end is None:
            last.end = at if at > last.start else last.start
            self._add_tensor(Tensor(last.tensor.name, last.start, last.end))
            last.tensor = self.tensors[-1] if last.end > last.start else None
            self._regions.append(_Region(last.end, None, None))

    # -- cutting -------------------------------------------------------------------
    def _emit(self, view: memoryview, base: int, final: bool) -> list[int]:
        """Cut the view by the regions known so far (absolute ends -> relative)."""
        limit = base + len(view)
        ends: list[int] = []
        pos = base
        for region in self._regions:
            if region.end is not None and region.end <= pos:
                continue
            if region.start > pos:  # cannot happen: regions are contiguous
                break
            end = region.end
            closed = end is not None and end <= limit
            stop = end if closed and end is not None else limit
            if region.tensor is not None:
                safe = stop if closed or final else limit - DESCRIPTOR_MAX
                at = region.start + ((pos - region.start) // self.piece + 1) * self.piece
                while at < stop and at <= safe:
                    ends.append(at)
                    at += self.piece
                if closed or final:
                    ends.append(stop)
                    pos = stop
                else:
                    return [e - base for e in ends]
            else:
                sub = view[pos - base : stop - base]
                cuts, consumed = cut_points(sub, self.params, closed or final)
                ends.extend(pos + c for c in cuts)
                if not closed:
                    return [e - base for e in ends]
                pos = stop
            if pos >= limit:
                break
        return [e - base for e in ends]


def _bounded(ends: list[int], size: int, max_size: int, final: bool) -> tuple[list[int], int]:
    """The pipeline's rules, whatever the layout said: increasing ends, no
    fragment longer than ``max_size``, no carry longer than ``max_size``, and
    every byte cut when ``final``."""
    out: list[int] = []
    pos = 0
    for e in ends:
        if e <= pos or e > size:
            continue
        while e - pos > max_size:
            pos += max_size
            out.append(pos)
        out.append(e)
        pos = e
    if final and pos < size:
        while size - pos > max_size:
            pos += max_size
            out.append(pos)
        out.append(size)
        pos = size
    while not final and size - pos > max_size:
        pos += max_size
        out.append(pos)
    return out, pos


def find_tensor_record(view: memoryview, max_header: int) -> int | None:
    """Where the first zip local header of a stored tensor record (``.../data/N``,
    as torch writes it) starts in ``view``; None if there is none."""
    data = bytes(view)
    pos = data.find(b"PK\x03\x04")
    while 0 <= pos and pos + LOCAL.size <= len(data):
        _, _, flags, method, _, _, _, _, _, nlen, xlen = LOCAL.unpack_from(data, pos)
        name = data[pos + LOCAL.size : pos + LOCAL.size + nlen]
        if (method == 0 and not flags & ~0x0808 and 0 < nlen and nlen + xlen <= max_header
                and b"/data/" in name and pos + LOCAL.size + nlen <= len(data)):
            return pos
        pos = data.find(b"PK\x03\x04", pos + 1)
    return None


def safetensors_layout(view: memoryview) -> list[Tensor] | None:
    """The tensors of a safetensors body whose whole header is in ``view``
    (absolute offsets, sorted); None unless the header holds together."""
    if len(view) < 10:
        return None
    n = struct.unpack_from("<Q", view)[0]
    if n < 2 or n > MAX_HEADER or 8 + n > len(view) or view[8] != ord("{"):
        return None
    try:
        doc = json.loads(bytes(view[8 : 8 + n]))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or len(doc) > MAX_TENSORS:
        return None
    found = []
    for name, spec in doc.items():
        if name == "__metadata__":
            continue
        offsets = spec.get("data_offsets") if isinstance(spec, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            return None
        lo, hi = offsets
        if not 0 <= lo <= hi:
            return None
        found.append(Tensor(name_hash(name), 8 + n + lo, 8 + n + hi))
    found.sort(key=lambda t: (t.start, t.end))
    pos = 8 + n
    for t in found:
        if t.start < pos:  # overlapping tensors: a lying header
            return None
        pos = t.end
    return found
