"""dedup/migrate.py: a data directory written by format 1 (fixtures/format1.tar.gz,
made by the engine of that format: bucket ``old`` with ``a.bin`` overwritten once,
``b.bin`` and its copy ``c.bin``, a completed two-part upload ``mp`` and an open
upload ``open-upload``) opens under the current format with every byte, count
and reference intact, and a second open changes nothing."""

from __future__ import annotations

import asyncio
import errno
import json
import tarfile
from pathlib import Path

import pytest
from storetest import can_punch, content, put, read

from dedup import Store, errors, holes
from dedup.format import FORMAT_VERSION, HEADER_SIZE
from dedup.packs import list_pack_ids, pack_path, scan_records
from dedup.types import DeleteRequest, StoreConfig

FIXTURE = Path(__file__).parent / "fixtures" / "format1.tar.gz"
DATA = bytes(range(256)) * 4096


@pytest.fixture
def old_dir(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "data"



def test_format1_opens_with_every_object_intact(old_dir: Path, loop: asyncio.AbstractEventLoop) -> None:
    assert json.loads((old_dir / "FORMAT").read_text())["format"] == 1
    store = loop.run_until_complete(Store.open(old_dir, StoreConfig()))
    try:
        assert json.loads((old_dir / "FORMAT").read_text())["format"] == FORMAT_VERSION
        got = {k: loop.run_until_complete(read(store, "old", k)) for k in ("a.bin", "b.bin", "c.bin", "mp")}
        assert got == {"a.bin": DATA + b"tail", "b.bin": DATA[:1000], "c.bin": DATA[:1000],
                       "mp": b"x" * (5 << 20) + b"y" * 100}
        head = loop.run_until_complete(store.head_object("old", "a.bin"))
        assert head.size == len(DATA) + 4
        uploads = loop.run_until_complete(store.list_multipart_uploads("old"))
        assert [u.key for u in uploads.uploads] == ["open-upload"]
        report = loop.run_until_complete(store.check())
        assert report.ok, report
        stats = loop.run_until_complete(store.stats(exact=True))
        assert stats.objects == 4 and stats.logical_bytes == len(DATA) + 4 + 2000 + (5 << 20) + 100
        with store.index.read() as txn:
            assert txn.stat(store.index.db["versions"])["entries"] == 0
            assert store.index.counter(txn, "next_vid") == 0 and store.index.counter(txn, "next_mid") > 1
    finally:
        loop.run_until_complete(store.close())


def test_new_writes_after_the_upgrade_never_reuse_an_old_manifest_id(
        old_dir: Path, loop: asyncio.AbstractEventLoop) -> None:
    store = loop.run_until_complete(Store.open(old_dir, StoreConfig()))
    try:
        with store.index.read() as txn:
            used = {int.from_bytes(k, "big") for k, _ in txn.cursor(db=store.index.db["mrefs"])}
        assert used
        loop.run_until_complete(put(store, "old", "new.bin", b"new bytes" * 1000))
        with store.index.read() as txn:
            after = {int.from_bytes(k, "big") for k, _ in txn.cursor(db=store.index.db["mrefs"])}
        assert len(after - used) == 1 and min(after - used) > max(used)
        assert loop.run_until_complete(read(store, "old", "b.bin")) == DATA[:1000]
    finally:
        loop.run_until_complete(store.close())


def test_old_records_without_a_crc_are_still_verified_by_blake3(
        old_dir: Path, loop: asyncio.AbstractEventLoop) -> None:
    """Records of formats 1 to 3 stay as they are (version 1, no CRC32C of their
    bytes): a read checks them by their BLAKE3 name, so a flipped byte in one
    is never served; records written after the upgrade are version 2."""
    store = loop.run_until_complete(Store.open(old_dir, StoreConfig()))
    try:
        loop.run_until_complete(put(store, "old", "new.bin", b"new bytes" * 1000))
        found = [(pid, pos, h) for pid in list_pack_ids(store.packs_dir)
                 for pos, h, _ in scan_records(pack_path(store.packs_dir, pid))]
        assert {h.version for _, _, h in found} == {1, 2}
        assert [h.raw_length for _, _, h in found if h.version == 2] == [9000]
        [(pid, pos, _)] = [(pid, pos, h) for pid, pos, h in found if h.version == 1 and h.raw_length == 1000]
        with open(pack_path(store.packs_dir, pid), "r+b") as f:
            f.seek(pos + HEADER_SIZE + 500)
            byte = f.read(1)[0]
            f.seek(pos + HEADER_SIZE + 500)
            f.write(bytes([byte ^ 1]))
        for key in ("b.bin", "c.bin"):
            with pytest.raises(errors.CorruptFragment):
                loop.run_until_complete(read(store, "old", key))
        assert loop.run_until_complete(read(store, "old", "new.bin")) == b"new bytes" * 1000
        assert len(loop.run_until_complete(store.check()).corrupt_fragments) == 1
    finally:
        loop.run_until_complete(store.close())


def test_upgrade_twice_changes_nothing(old_dir: Path, loop: asyncio.AbstractEventLoop) -> None:
    for _ in range(2):
        store = loop.run_until_complete(Store.open(old_dir, StoreConfig()))
        with store.index.read() as txn:
            rows = sorted(txn.cursor(db=store.index.db["mrefs"]))
        loop.run_until_complete(store.close())
    # a crash after the index commit but before FORMAT was rewritten: run it again
    doc = json.loads((old_dir / "FORMAT").read_text())
    (old_dir / "FORMAT").write_text(json.dumps({**doc, "format": 1}))
    store = loop.run_until_complete(Store.open(old_dir, StoreConfig()))
    try:
        with store.index.read() as txn:
            assert sorted(txn.cursor(db=store.index.db["mrefs"])) == rows
        assert loop.run_until_complete(read(store, "old", "mp")) == b"x" * (5 << 20) + b"y" * 100
        assert loop.run_until_complete(store.check()).ok
    finally:
        loop.run_until_complete(store.close())


def test_format2_is_upgraded_and_older_engines_are_kept_out(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    """2 -> 3 converts nothing; FORMAT says 3 so that an engine of format 2 (its
    pack scan stops at a punched hole) refuses the directory."""
    data = tmp_path / "data"
    store = loop.run_until_complete(Store.open(data, StoreConfig()))
    loop.run_until_complete(store.create_bucket("bucket-two", "owner"))
    loop.run_until_complete(put(store, "bucket-two", "k", DATA))
    loop.run_until_complete(store.close())
    doc = json.loads((data / "FORMAT").read_text())
    (data / "FORMAT").write_text(json.dumps({**doc, "format": 2}))
    store = loop.run_until_complete(Store.open(data, StoreConfig()))
    try:
        assert json.loads((data / "FORMAT").read_text())["format"] == FORMAT_VERSION
        assert loop.run_until_complete(read(store, "bucket-two", "k")) == DATA
        assert loop.run_until_complete(store.check()).ok
    finally:
        loop.run_until_complete(store.close())


def test_format3_is_upgraded_and_older_engines_are_kept_out(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    """3 -> 4 -> 5 converts nothing (records keep their version; the delta
    tables start empty); FORMAT says 5 so that an engine of format 3 or 4
    (which cannot decode a delta, and would count a base's references without
    its deltas) refuses the directory."""
    data = tmp_path / "data"
    store = loop.run_until_complete(Store.open(data, StoreConfig()))
    loop.run_until_complete(store.create_bucket("bucket-three", "owner"))
    loop.run_until_complete(put(store, "bucket-three", "k", DATA))
    loop.run_until_complete(store.close())
    doc = json.loads((data / "FORMAT").read_text())
    (data / "FORMAT").write_text(json.dumps({**doc, "format": 3}))
    store = loop.run_until_complete(Store.open(data, StoreConfig()))
    try:
        assert FORMAT_VERSION == 5
        assert json.loads((data / "FORMAT").read_text())["format"] == 5
        assert loop.run_until_complete(read(store, "bucket-three", "k")) == DATA
        assert loop.run_until_complete(store.check()).ok
    finally:
        loop.run_until_complete(store.close())


def test_dead_records_of_format2_are_punched_on_upgrade(tmp_path: Path, loop: asyncio.AbstractEventLoop,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A format-2 engine left dead records in its packs (it never punched): the
    upgrade queues them, and the open punches them. Made here by this engine on
    a filesystem that cannot punch (the seam), which writes packs as format 2 did."""
    if not can_punch(tmp_path):
        pytest.skip("the filesystem of the test directory cannot punch holes")
    data = tmp_path / "data"
    real = holes.punch_hole

    def unsupported(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(holes, "punch_hole", unsupported)
    config = StoreConfig(pack_size=64 << 20, compact_threshold=0.0)
    store = loop.run_until_complete(Store.open(data, config))
    loop.run_until_complete(store.create_bucket("bucket-two", "owner"))
    for key in ("a", "dead1", "b", "dead2", "c"):
        loop.run_until_complete(put(store, "bucket-two", key, content(key, 600 << 10)))
    loop.run_until_complete(store.delete_objects("bucket-two", [DeleteRequest("dead1"), DeleteRequest("dead2")]))
    loop.run_until_complete(store.collect_garbage(grace_seconds=0))
    loop.run_until_complete(store.close())
    before = sum(p.stat().st_blocks * 512 for p in (data / "packs").glob("*.pack"))
    doc = json.loads((data / "FORMAT").read_text())
    (data / "FORMAT").write_text(json.dumps({**doc, "format": 2}))

    monkeypatch.setattr(holes, "punch_hole", real)
    store = loop.run_until_complete(Store.open(data, config))
    try:
        after = sum(p.stat().st_blocks * 512 for p in (data / "packs").glob("*.pack"))
        assert before - after >= 2 * (600 << 10) - 16 * 1024
        for key in ("a", "b", "c"):
            assert loop.run_until_complete(read(store, "bucket-two", key)) == content(key, 600 << 10)
        assert loop.run_until_complete(store.check()).ok
        with store.index.read() as txn:
            assert txn.stat(store.index.db["holes"])["entries"] == 0
    finally:
        loop.run_until_complete(store.close())
