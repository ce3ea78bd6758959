"""Lifecycle rules in the engine (dedup/lifecycle.py, lifecycle_run.py,
lifecycle_jobs.py): each action with a 10-second lifecycle day and a clock the
test sets (object versions get its time as their creation time), the filters,
NewerNoncurrentVersions, the re-checks of the writer jobs, repeated and
bounded runs, GC giving back what expired versions held, and a run killed
part way (tests/dedup/lifecycle_crasher.py) finished by the next one with no
action done twice and no version lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from storetest import OWNER, SMALL, content, put

from dedup import Store, errors, lifecycle_run
from dedup.lifecycle import (
    DAY,
    Expiration,
    Filter,
    LifecycleConfiguration,
    NoncurrentVersionExpiration,
    Rule,
    after,
    current_expiry,
    from_json,
)
from dedup.lifecycle_jobs import expire_current, expire_noncurrent
from dedup.types import KiB, LifecycleAction, ObjectMeta

pytestmark = pytest.mark.packstores  # every test once per pack store (conftest.py)

D = 10.0  # the lifecycle day of these tests, in seconds
T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
B = "lifecycle"
CRASHER = Path(__file__).with_name("lifecycle_crasher.py")


class Clock:
    """Stands for the time module where the engine stamps versions and uploads."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(T0)
    for module in ("dedup.store", "dedup.versioning", "dedup.multipart"):
        monkeypatch.setattr(f"{module}.time", c)
    return c


@pytest.fixture
def lc(harness: Any, clock: Clock) -> Store:
    """A store with a 10 s lifecycle day and a bucket ``lc``."""
    store = harness.reopen(replace(SMALL, lifecycle_day_seconds=D))
    harness.run(store.create_bucket(B, OWNER))
    return store  # type: ignore[no-any-return]


def rule(rule_id: str = "r", prefix: str | None = None, **kw: Any) -> Rule:
    flt = kw.pop("filter", None) or Filter(prefix)
    return Rule(rule_id, kw.pop("enabled", True), flt, **kw)


def configure(run: Callable[..., Any], store: Store, *rules: Rule) -> None:
    run(store.put_bucket_lifecycle(B, LifecycleConfiguration(tuple(rules))))


def versions(run: Callable[..., Any], store: Store, prefix: str = "") -> list[tuple[str, str, bool]]:
    """(key, version id, delete marker) of every version, in list order."""
    page = run(store.list_object_versions(B, prefix=prefix))
    return [(e.key, e.version_id, e.delete_marker) for e in page.entries]


def put_at(run: Callable[..., Any], store: Store, clock: Clock, key: str, at: float, data: bytes = b"x",
           tags: dict[str, str] | None = None) -> str:
    clock.now = at
    info = run(put(store, B, key, data, meta=ObjectMeta(tags=tags or {}))).info
    return info.version_id  # type: ignore[no-any-return]


def lifecycle(run: Callable[..., Any], store: Store, at: float) -> dict[str, int]:
    return dict(run(store.run_lifecycle(now=at)).actions)


def count(actions: dict[str, int]) -> int:
    return sum(actions.values())


# -- Expiration ----------------------------------------------------------------------------
def test_expiration_deletes_an_object_of_an_unversioned_bucket_when_due(lc, run, clock):
    put_at(run, lc, clock, "old", T0)
    put_at(run, lc, clock, "young", T0 + 2 * D)
    configure(run, lc, rule(expiration=Expiration(days=3)))
    assert count(lifecycle(run, lc, T0 + 3 * D - 1)) == 0
    assert lifecycle(run, lc, T0 + 3 * D)["Expiration"] == 1
    assert versions(run, lc) == [("young", "null", False)]
    with pytest.raises(errors.NoSuchKey):
        run(lc.head_object(B, "old"))
    assert lifecycle(run, lc, T0 + 5 * D)["Expiration"] == 1
    assert versions(run, lc) == []


def test_expiration_in_a_versioned_bucket_writes_one_delete_marker(lc, run, clock):
    run(lc.put_bucket_versioning(B, "Enabled"))
    v1 = put_at(run, lc, clock, "k", T0)
    configure(run, lc, rule(expiration=Expiration(days=1)))
    assert lifecycle(run, lc, T0 + D)["Expiration"] == 1
    listed = versions(run, lc)
    assert [(k, m) for k, _, m in listed] == [("k", True), ("k", False)] and listed[1][1] == v1
    assert count(lifecycle(run, lc, T0 + 10 * D)) == 0  # a marker does not expire into another marker


def test_expiration_in_a_suspended_bucket_writes_the_null_marker(lc, run, clock):
    run(lc.put_bucket_versioning(B, "Enabled"))
    v1 = put_at(run, lc, clock, "k", T0)
    run(lc.put_bucket_versioning(B, "Suspended"))
    put_at(run, lc, clock, "k", T0 + D)  # the null version
    configure(run, lc, rule(expiration=Expiration(days=1)))
    assert lifecycle(run, lc, T0 + 2 * D)["Expiration"] == 1
    assert versions(run, lc) == [("k", "null", True), ("k", v1, False)]  # the null object was replaced


def test_expiration_by_date_and_the_header_date(lc, run, clock):
    put_at(run, lc, clock, "k", T0)
    date = T0 + DAY  # 8640 test days later
    configure(run, lc, rule("by-date", expiration=Expiration(date=date)), rule("later", expiration=Expiration(days=9000)))
    info = run(lc.head_object(B, "k"))
    due = lc.object_expiration(info)
    assert due is not None and (due.at, due.rule_id) == (date, "by-date")
    assert count(lifecycle(run, lc, date - 1)) == 0
    assert lifecycle(run, lc, date)["Expiration"] == 1


def test_the_rule_due_first_names_the_expiration(lc, run, clock):
    put_at(run, lc, clock, "logs/a", T0)
    configure(run, lc, rule("all", expiration=Expiration(days=9)), rule("logs", "logs/", expiration=Expiration(days=2)))
    due = lc.object_expiration(run(lc.head_object(B, "logs/a")))
    assert due is not None and (due.at, due.rule_id) == (T0 + 2 * D, "logs")


def test_days_round_up_to_midnight_utc_with_a_real_day():
    assert after(T0 + 10.5 * 3600, 3, DAY) == T0 + 4 * DAY  # 1/1 10:30 + 3 days -> 1/5 00:00
    assert after(T0, 1, DAY) == T0 + DAY  # a midnight is its own ceiling
    assert after(T0 + 1, 0, DAY) == T0 + DAY
    assert after(T0 + 1, 2, D) == T0 + 1 + 2 * D  # a short test day is not rounded
    config = LifecycleConfiguration((rule(expiration=Expiration(days=1)),))
    due = current_expiry(config, "k", 1, {}, T0 + 5, DAY)
    assert due is not None and due.at == T0 + 2 * DAY


# -- NoncurrentVersionExpiration -------------------------------------------------------------------
def test_noncurrent_age_counts_from_when_the_next_version_was_written(lc, run, clock):
    run(lc.put_bucket_versioning(B, "Enabled"))
    v1 = put_at(run, lc, clock, "k", T0)
    v2 = put_at(run, lc, clock, "k", T0 + 5 * D)
    v3 = put_at(run, lc, clock, "k", T0 + 8 * D)
    configure(run, lc, rule(noncurrent_version_expiration=NoncurrentVersionExpiration(4)))
    # v1 noncurrent since T0+5D: due T0+9D; v2 since T0+8D: due T0+12D (by its own age it would be T0+9D)
    assert count(lifecycle(run, lc, T0 + 9 * D - 1)) == 0
    assert lifecycle(run, lc, T0 + 10 * D)["NoncurrentVersionExpiration"] == 1
    assert [v for _, v, _ in versions(run, lc)] == [v3, v2]
    assert count(lifecycle(run, lc, T0 + 12 * D - 1)) == 0
    assert lifecycle(run, lc, T0 + 12 * D)["NoncurrentVersionExpiration"] == 1
    assert [v for _, v, _ in versions(run, lc)] == [v3]
    assert v1 not in [v for _, v, _ in versions(run, lc)]


@pytest.mark.parametrize(("at", "kept"), [(8, [4, 5, 6, 7]), (100, [5, 6, 7])])
def test_newer_noncurrent_versions_keeps_the_k_newest(lc, run, clock, at, kept):
    run(lc.put_bucket_versioning(B, "Enabled"))
    ids = {i: put_at(run, lc, clock, "ckpt", T0 + (i - 1) * D, content(i, 100)) for i in range(1, 9)}
    configure(run, lc, rule(noncurrent_version_expiration=NoncurrentVersionExpiration(5, 3)))
    # v_i (i < 8) became noncurrent at T0 + i*D and is due at T0 + (i+5)*D; the 3 newest are kept anyway
    lifecycle(run, lc, T0 + at * D)
    assert [v for _, v, _ in versions(run, lc)] == [ids[8]] + [ids[i] for i in sorted(kept, reverse=True)]
    assert count(lifecycle(run, lc, T0 + at * D)) == 0


def test_noncurrent_delete_markers_expire_too(lc, run, clock):
    run(lc.put_bucket_versioning(B, "Enabled"))
    put_at(run, lc, clock, "k", T0)
    clock.now = T0 + D
    run(lc.delete_object(B, "k"))
    v3 = put_at(run, lc, clock, "k", T0 + 2 * D)
    configure(run, lc, rule(noncurrent_version_expiration=NoncurrentVersionExpiration(1)))
    assert lifecycle(run, lc, T0 + 3 * D)["NoncurrentVersionExpiration"] == 2
    assert versions(run, lc) == [("k", v3, False)]


# -- delete markers and uploads --------------------------------------------------------------------
def test_expired_object_delete_marker_goes_once_it_is_alone(lc, run, clock):
    run(lc.put_bucket_versioning(B, "Enabled"))
    put_at(run, lc, clock, "gone", T0)
    put_at(run, lc, clock, "kept", T0)
    clock.now = T0 + D
    run(lc.delete_object(B, "gone"))
    run(lc.delete_object(B, "kept"))
    configure(run, lc, rule("m", "gone", expiration=Expiration(expired_object_delete_marker=True),
                            noncurrent_version_expiration=NoncurrentVersionExpiration(1)),
               rule("k", "kept", expiration=Expiration(expired_object_delete_marker=True)))
    assert lifecycle(run, lc, T0 + 2 * D) == {"Expiration": 0, "NoncurrentVersionExpiration": 1,
                                              "ExpiredObjectDeleteMarker": 0, "AbortIncompleteMultipartUpload": 0}
    assert lifecycle(run, lc, T0 + 2 * D)["ExpiredObjectDeleteMarker"] == 1  # now alone
    assert [(k, m) for k, _, m in versions(run, lc)] == [("kept", True), ("kept", False)]


def test_a_days_rule_removes_lone_markers_old_enough(lc, run, clock):
    run(lc.put_bucket_versioning(B, "Enabled"))
    clock.now = T0
    run(lc.delete_object(B, "k"))  # a marker and nothing else
    configure(run, lc, rule(expiration=Expiration(days=3)))
    assert count(lifecycle(run, lc, T0 + 3 * D - 1)) == 0
    assert lifecycle(run, lc, T0 + 3 * D)["ExpiredObjectDeleteMarker"] == 1
    assert versions(run, lc) == []


def test_abort_incomplete_multipart_upload(lc, run, clock):
    clock.now = T0
    old = run(lc.create_multipart_upload(B, "tmp/a", ObjectMeta())).upload_id
    kept = run(lc.create_multipart_upload(B, "keep/a", ObjectMeta())).upload_id
    clock.now = T0 + D
    young = run(lc.create_multipart_upload(B, "tmp/b", ObjectMeta())).upload_id
    configure(run, lc, rule(prefix="tmp/", abort_days=2))
    assert count(lifecycle(run, lc, T0 + 2 * D - 1)) == 0
    assert lifecycle(run, lc, T0 + 2 * D)["AbortIncompleteMultipartUpload"] == 1
    left = {u.upload_id for u in run(lc.list_multipart_uploads(B)).uploads}
    assert left == {kept, young} and old not in left
    assert lifecycle(run, lc, T0 + 3 * D)["AbortIncompleteMultipartUpload"] == 1
    assert {u.upload_id for u in run(lc.list_multipart_uploads(B)).uploads} == {kept}


# -- filters -------------------------------------------------------------------------------------
def test_filters_prefix_tags_and_sizes(lc, run, clock):
    put_at(run, lc, clock, "logs/a", T0)
    put_at(run, lc, clock, "data/a", T0)
    put_at(run, lc, clock, "data/tagged", T0, tags={"tmp": "yes", "other": "1"})
    put_at(run, lc, clock, "data/wrong-value", T0, tags={"tmp": "no"})
    put_at(run, lc, clock, "both/tagged", T0, tags={"tmp": "yes"})
    put_at(run, lc, clock, "elsewhere/tagged", T0, tags={"tmp": "yes"})
    for size in (10, 11, 999, 1000):
        put_at(run, lc, clock, f"sized/{size}", T0, b"s" * size)
    exp = Expiration(days=1)
    configure(
        run, lc,
        rule("prefix", "logs/", expiration=exp),
        rule("tag", filter=Filter(tags=(("tmp", "yes"),)), expiration=Expiration(days=2)),
        rule("and", filter=Filter("both/", (("tmp", "yes"),), conjunction=True), expiration=exp),
        rule("size", filter=Filter("sized/", (), 10, 1000, True), expiration=exp),
        rule("off", enabled=False, expiration=exp),
    )
    assert lifecycle(run, lc, T0 + D)["Expiration"] == 4  # logs/a, both/tagged, sized/11, sized/999
    assert [k for k, _, _ in versions(run, lc)] == [
        "data/a", "data/tagged", "data/wrong-value", "elsewhere/tagged", "sized/10", "sized/1000"]
    assert lifecycle(run, lc, T0 + 2 * D)["Expiration"] == 2  # the tag rule: data/tagged, elsewhere/tagged
    assert [k for k, _, _ in versions(run, lc)] == ["data/a", "data/wrong-value", "sized/10", "sized/1000"]


def test_configuration_round_trips_through_its_stored_form(lc, run):
    config = LifecycleConfiguration((
        rule("a", filter=Filter("p/", (("k", "v"), ("k2", "")), 5, 50, True), expiration=Expiration(days=3),
             noncurrent_version_expiration=NoncurrentVersionExpiration(2, 7)),
        rule("b", "", legacy_prefix=True, enabled=False, abort_days=4),
        rule("c", expiration=Expiration(date=T0)),
        rule("d", expiration=Expiration(expired_object_delete_marker=False)),
    ), "varies_by_storage_class")
    assert from_json(config.to_json()) == config
    run(lc.put_bucket_lifecycle(B, config))
    assert run(lc.get_bucket_lifecycle(B)) == config
    run(lc.put_bucket_lifecycle(B, None))
    assert run(lc.get_bucket_lifecycle(B)) is None


# -- re-checks, repeats, bounds ----------------------------------------------------------------------
def test_jobs_recheck_what_changed_since_the_plan(lc, run, clock):
    run(lc.put_bucket_versioning(B, "Enabled"))
    old = put_at(run, lc, clock, "k", T0)
    configure(run, lc, rule(expiration=Expiration(days=1)))
    planned = LifecycleAction("Expiration", B, "k", old, "r")
    new = put_at(run, lc, clock, "k", T0 + 5 * D)  # a client wrote after the plan
    assert run(lc.writer.run(lambda w: expire_current(w, planned, T0 + 5 * D, D))) is None
    assert [v for _, v, _ in versions(run, lc)] == [new, old]
    stale = LifecycleAction("NoncurrentVersionExpiration", B, "k", old, "r")
    assert run(lc.writer.run(lambda w: expire_noncurrent(w, stale, T0 + 50 * D, D))) is None  # no such rule now
    run(lc.put_bucket_lifecycle(B, None))
    assert run(lc.writer.run(lambda w: expire_current(w, replace(planned, version_id=new), T0 + 50 * D, D))) is None
    assert [v for _, v, _ in versions(run, lc)] == [new, old]


def _many(run: Callable[..., Any], store: Store, clock: Clock) -> dict[str, list[str]]:
    """Seven keys of six versions, one key deleted (a marker), the rules of
    :func:`_kept`; the version ids of each key, oldest first."""
    run(store.put_bucket_versioning(B, "Enabled"))
    ids: dict[str, list[str]] = {}
    for i in range(6):
        for k in range(7):
            ids.setdefault(f"k{k}", []).append(put_at(run, store, clock, f"k{k}", T0 + i * D, content(f"{k}-{i}", 3 * KiB)))
    clock.now = T0 + 6 * D
    run(store.delete_object(B, "k0"))
    configure(run, store, rule("nc", noncurrent_version_expiration=NoncurrentVersionExpiration(1, 2)),
              rule("exp", "k1", expiration=Expiration(days=1)))
    return ids


def _kept(run: Callable[..., Any], store: Store, ids: dict[str, list[str]]) -> None:
    """What the rules of :func:`_many` leave, once runs find nothing more to do:
    the current version (k0 and k1: a delete marker) and the two newest
    noncurrent ones."""
    listed = versions(run, store)
    for key, vids in ids.items():
        mine = [(v, m) for k, v, m in listed if k == key]
        if key in ("k0", "k1"):
            assert mine[0][1] and mine[1:] == [(vids[5], False), (vids[4], False)], key
        else:
            assert mine == [(vids[5], False), (vids[4], False), (vids[3], False)], key


def settle(run: Callable[..., Any], store: Store, at: float) -> dict[str, int]:
    """Run until a run finds nothing to do (an Expiration leaves one more
    noncurrent version for the next run, as daily runs do); the actions of all."""
    total: dict[str, int] = {}
    for _ in range(5):
        done = lifecycle(run, store, at)
        if not count(done):
            return total
        total = {k: total.get(k, 0) + n for k, n in done.items()}
    raise AssertionError(f"runs never settle: {total}")


def test_small_pages_give_the_same_result(lc, run, clock, monkeypatch):
    monkeypatch.setattr(lifecycle_run, "PAGE_KEYS", 2)
    monkeypatch.setattr(lifecycle_run, "PAGE_ACTIONS", 2)
    ids = _many(run, lc, clock)
    done = settle(run, lc, T0 + 20 * D)
    # k0: 4 of 6 noncurrent; k1: 3 of 5, expired, then 1 more; the others 3 of 5 each
    assert (done["NoncurrentVersionExpiration"], done["Expiration"]) == (4 + 3 + 1 + 5 * 3, 1)
    _kept(run, lc, ids)


def test_gc_gives_back_the_space_of_expired_versions(lc, run, clock):
    run(lc.put_bucket_versioning(B, "Enabled"))
    for i in range(5):
        put_at(run, lc, clock, "model.ckpt", T0 + i * D, content(f"ckpt-{i}", 200 * KiB))
    before = run(lc.stats())
    configure(run, lc, rule(noncurrent_version_expiration=NoncurrentVersionExpiration(1, 1)))
    assert lifecycle(run, lc, T0 + 10 * D)["NoncurrentVersionExpiration"] == 3
    report = run(lc.collect_garbage(grace_seconds=0))
    after_gc = run(lc.stats())
    assert report.bytes_freed == 3 * 200 * KiB
    assert before.unique_bytes - after_gc.unique_bytes == 3 * 200 * KiB
    assert after_gc.logical_bytes == 2 * 200 * KiB
    assert run(lc.check()).ok


def test_a_deleted_bucket_ends_its_part_of_the_run(lc, run, clock):
    put_at(run, lc, clock, "k", T0)
    configure(run, lc, rule(expiration=Expiration(days=1)))
    action = LifecycleAction("Expiration", B, "k", "null", "r")
    run(lc.delete_object(B, "k"))
    run(lc.delete_bucket(B))
    assert run(lc.writer.run(lambda w: expire_current(w, action, T0 + 5 * D, D))) is None
    assert count(lifecycle(run, lc, T0 + 5 * D)) == 0


def test_a_failing_job_fails_the_run_after_the_others_finish(lc, run, clock, monkeypatch):
    for k in ("a", "b", "c"):
        put_at(run, lc, clock, k, T0)
    configure(run, lc, rule(expiration=Expiration(days=1)))

    def broken(w: Any, a: LifecycleAction, now: float, day: float) -> LifecycleAction | None:
        if a.key == "b":
            raise RuntimeError("disk on fire")
        return expire_current(w, a, now, day)

    monkeypatch.setitem(lifecycle_run.JOBS, "Expiration", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(lc.run_lifecycle(now=T0 + D))
    assert versions(run, lc) == [("b", "null", False)]  # a and c were expired all the same


# -- a run killed part way -------------------------------------------------------------------------
def _kill_after_acks(data: Path, acks: int, index: str) -> list[str]:
    """Run the crasher until it has reported ``acks`` actions, then SIGKILL it."""
    args = [sys.executable, str(CRASHER), str(data), str(T0 + 20 * D), str(D), index]
    proc = subprocess.Popen(args, cwd=CRASHER.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.strip())
        if sum(1 for w in lines if w.startswith("ACK")) >= acks:
            break
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    lines += [x for x in out.split("\n")[:-1] if x]
    assert proc.returncode in (-signal.SIGKILL, 0), err
    return [x for x in lines if x.startswith("ACK")]


@pytest.mark.parametrize("acks", [1, 7, 20])
def test_a_run_killed_part_way_is_finished_by_the_next(harness, run, clock, acks, local_only):
    store = harness.reopen(replace(SMALL, lifecycle_day_seconds=D))
    run(store.create_bucket(B, OWNER))
    ids = _many(run, store, clock)
    harness.close()
    first = _kill_after_acks(harness.path, acks, harness.index)
    store = harness.open(replace(SMALL, lifecycle_day_seconds=D))
    later: list[str] = []
    for _ in range(3):
        run(store.run_lifecycle(now=T0 + 20 * D, on_action=lambda a: later.append(
            f"ACK {a.action} {a.key} {a.version_id}")))
    assert not set(first) & set(later), "an action was done twice"
    assert len(first) + len(later) <= 24  # what runs that were never killed do (above)
    _kept(run, store, ids)
    assert run(store.check()).ok
