"""The root key pair has one source of truth, the data directory's
root-credentials: real servers and the real ``fragstore`` command agree on it
whatever the environment says, or refuse with both sources named; the start
log says where the pair came from; ``fragstore rotate-root-key`` changes it on
purpose; and a bad pair is refused before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.live_server import ROOT, clean_env, fragstore, start_server

GOOD_KEY, GOOD_SECRET = "ROOTKEY1", "first-root-secret-4d8a1c9e7b"
NEW_KEY, NEW_SECRET = "ROOTKEY2", "second-root-secret-9f2b6e3a1d"
UNSET = {"FRAGSTORE_ACCESS_KEY": "", "FRAGSTORE_SECRET_KEY": ""}
DOCKER_EXAMPLE = ROOT / "docker" / "fragstore.env.example"


def pair_env(key: str, secret: str) -> dict[str, str]:
    return clean_env(FRAGSTORE_ACCESS_KEY=key, FRAGSTORE_SECRET_KEY=secret)


def serve_briefly(data: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    """``fragstore serve`` that is expected to refuse to start (killed after 60 s otherwise)."""
    return fragstore("serve", "--data", str(data), "--port", "1", *extra, env=env, timeout=60)


def kept_pair(data: Path) -> tuple[str, str]:
    key, _, secret = (data / "root-credentials").read_text().strip().partition(":")
    return key, secret


def test_quick_start_then_another_pair_in_the_environment(tmp_path: Path) -> None:
    """README order: the quick start generates a pair; a later start with the
    variables set to another pair is refused, and so is the CLI with them."""
    data = tmp_path / "data"
    with start_server(data, env=UNSET) as server:
        server.client().create_bucket(Bucket="first-hour")
        generated = server.access_key
    assert kept_pair(data)[0] == generated

    refused = serve_briefly(data, pair_env(NEW_KEY, NEW_SECRET))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = refused.stderr
    assert f"(access key {NEW_KEY}) are not the root key pair of {data}" in message
    assert f"{data / 'root-credentials'} holds access key {generated}" in message
    assert f"fragstore rotate-root-key --data {data}" in message
    assert NEW_SECRET not in message + refused.stdout and kept_pair(data)[1] not in message + refused.stdout
    assert kept_pair(data)[0] == generated  # nothing changed

    with start_server(data, env=UNSET) as server:
        assert f"root access key {generated}, from {data / 'root-credentials'} (FRAGSTORE_ACCESS_KEY/" \
               f"FRAGSTORE_SECRET_KEY unset)" in server.log()
        other = fragstore("stats", "--data", str(data), env=pair_env(NEW_KEY, NEW_SECRET))
        assert other.returncode == 2 and "are not the root key pair" in other.stderr, other.stderr
        assert "asking it at" in other.stderr and NEW_SECRET not in other.stderr
        plain = fragstore("stats", "--data", str(data), env=clean_env())
        assert plain.returncode == 0 and "first-hour" in plain.stdout, plain.stderr
        same = fragstore("stats", "--data", str(data), env=pair_env(*kept_pair(data)))
        assert same.returncode == 0 and "first-hour" in same.stdout, same.stderr


def test_the_first_start_saves_the_environment_pair(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data, env=pair_env(GOOD_KEY, GOOD_SECRET)) as server:
        server.client().create_bucket(Bucket="chosen")
        assert f"root access key {GOOD_KEY}, from FRAGSTORE_ACCESS_KEY/FRAGSTORE_SECRET_KEY, saved to " \
               f"{data / 'root-credentials'} (first start)" in server.log()
    assert kept_pair(data) == (GOOD_KEY, GOOD_SECRET)
    assert (data / "root-credentials").stat().st_mode & 0o077 == 0
    with start_server(data, env=UNSET) as server:
        assert server.access_key == GOOD_KEY  # what the server took
        assert [b["Name"] for b in server.client().list_buckets()["Buckets"]] == ["chosen"]
        done = fragstore("stats", "--data", str(data), env=clean_env())  # the CLI signs with the same pair
        assert done.returncode == 0 and "chosen" in done.stdout, done.stderr
    with start_server(data, env=pair_env(GOOD_KEY, GOOD_SECRET)) as server:
        assert "FRAGSTORE_SECRET_KEY set to the same pair)" in server.log()


def test_rotate_root_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data, env=pair_env(GOOD_KEY, GOOD_SECRET)) as server:
        server.client().create_bucket(Bucket="rotated")
        busy = fragstore("rotate-root-key", "--data", str(data), env=pair_env(GOOD_KEY, NEW_SECRET))
        assert busy.returncode == 2 and "stop the server first" in busy.stderr, busy.stderr
        assert kept_pair(data) == (GOOD_KEY, GOOD_SECRET)

    # buckets belong to the access key that made them: a new root access key would own none of them
    orphaning = fragstore("rotate-root-key", "--data", str(data), env=pair_env(NEW_KEY, NEW_SECRET))
    assert orphaning.returncode == 2, orphaning.stdout
    assert f"access key {GOOD_KEY} owns 1 bucket (rotated)" in orphaning.stderr
    assert f"set FRAGSTORE_ACCESS_KEY={GOOD_KEY} with the new FRAGSTORE_SECRET_KEY" in orphaning.stderr
    assert kept_pair(data) == (GOOD_KEY, GOOD_SECRET)

    done = fragstore("rotate-root-key", "--data", str(data), env=pair_env(GOOD_KEY, NEW_SECRET))
    assert done.returncode == 0, done.stderr
    assert f"root access key {GOOD_KEY} of {data} has a new secret" in done.stdout
    assert NEW_SECRET not in done.stdout + done.stderr
    assert kept_pair(data) == (GOOD_KEY, NEW_SECRET)

    with start_server(data, env=pair_env(GOOD_KEY, NEW_SECRET)) as server:
        assert [b["Name"] for b in server.client().list_buckets()["Buckets"]] == ["rotated"]
        with pytest.raises(ClientError) as info:
            server.client(aws_secret_access_key=GOOD_SECRET).list_buckets()
        assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        stats = fragstore("stats", "--data", str(data), env=clean_env())
        assert stats.returncode == 0 and "rotated" in stats.stdout, stats.stderr

    generated = fragstore("rotate-root-key", "--data", str(data), env=clean_env())
    assert generated.returncode == 0, generated.stderr
    key, secret = kept_pair(data)
    assert key == GOOD_KEY and secret != NEW_SECRET and f"secret key: {secret}" in generated.stdout


def test_rotate_to_another_access_key_while_it_owns_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data, env=pair_env(GOOD_KEY, GOOD_SECRET)):
        pass
    done = fragstore("rotate-root-key", "--data", str(data), env=pair_env(NEW_KEY, NEW_SECRET))
    assert done.returncode == 0, done.stderr
    assert f"is now access key {NEW_KEY} (was {GOOD_KEY})" in done.stdout
    with start_server(data, env=pair_env(NEW_KEY, NEW_SECRET)) as server:
        server.client().create_bucket(Bucket="after-rotation")


def test_a_pair_replaced_under_a_running_server_is_named(tmp_path: Path) -> None:
    """The file changed behind the server's back (not through rotate-root-key):
    the CLI cannot agree with the server, and says why instead of a bare code."""
    data = tmp_path / "data"
    with start_server(data, env=pair_env(GOOD_KEY, GOOD_SECRET)):
        (data / "root-credentials").write_text(f"{NEW_KEY}:{NEW_SECRET}\n")
        done = fragstore("stats", "--data", str(data), env=clean_env())
        assert done.returncode == 1, done.stdout
        assert "InvalidAccessKeyId" in done.stderr and "was root-credentials replaced while it ran?" in done.stderr
        assert f"access key {NEW_KEY}" in done.stderr and NEW_SECRET not in done.stderr


def _docker_example() -> dict[str, str]:
    return dict(line.split("=", 1) for line in DOCKER_EXAMPLE.read_text().splitlines() if line.startswith("FRAGSTORE_"))


@pytest.mark.parametrize(("env", "message"), [
    ({"FRAGSTORE_ACCESS_KEY": "ab", "FRAGSTORE_SECRET_KEY": GOOD_SECRET},
     "FRAGSTORE_ACCESS_KEY: the access key has 2 characters; an access key is 3 to 128 letters and digits"),
    ({"FRAGSTORE_ACCESS_KEY": GOOD_KEY, "FRAGSTORE_SECRET_KEY": "x"},
     "FRAGSTORE_SECRET_KEY: the secret key has 1 character; it needs at least 20"),
    ({"FRAGSTORE_ACCESS_KEY": GOOD_KEY}, "FRAGSTORE_ACCESS_KEY is set but FRAGSTORE_SECRET_KEY is not"),
    ({"FRAGSTORE_SECRET_KEY": GOOD_SECRET}, "FRAGSTORE_SECRET_KEY is set but FRAGSTORE_ACCESS_KEY is not"),
    (_docker_example(), "FRAGSTORE_SECRET_KEY: the secret key looks like a placeholder (it says 'replace me')"),
])
def test_the_server_refuses_a_bad_pair(tmp_path: Path, env: dict[str, str], message: str) -> None:
    data = tmp_path / "data"
    done = serve_briefly(data, clean_env(**env), "--host", "0.0.0.0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert not (data / "root-credentials").exists()


def test_the_server_refuses_a_weak_user_secret(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text(f"ALICE:{GOOD_SECRET}\nBOB:bob-secret\n")
    done = serve_briefly(tmp_path / "data", pair_env(GOOD_KEY, GOOD_SECRET), "--users", str(users))
    assert done.returncode == 2
    assert "users.txt line 2: the secret key has 10 characters; it needs at least 20" in done.stderr


def test_rotate_root_key_says_what_it_does() -> None:
    done = subprocess.run([sys.executable, "-m", "server", "rotate-root-key", "--help"], cwd=ROOT,
                          capture_output=True, text=True, env=clean_env(), timeout=60)
    assert done.returncode == 0 and "server must be stopped" in done.stdout
