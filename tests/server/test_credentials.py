"""Credentials: what a key pair must be (and the exact words when it is not),
the users file, and the root pair's one source of truth: the data directory's
root-credentials, which the environment may repeat but never contradict."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.auth.credentials import (
    ROOT_FILE,
    CredentialsError,
    env_pair,
    load_credentials,
    parse_users,
    resolve_root,
    root_pair,
    rotate_root,
)

GOOD = "k7Qw2-rT9xLm4PzV8nYc3Bh"  # 23 characters
OTHER = "Zp4Lq9-wE2sRt7YuJ6mNb1Kc"
DOCKER_EXAMPLE = Path(__file__).resolve().parents[2] / "docker" / "fragstore.env.example"


def test_users_file_format() -> None:
    text = f"# comment\n\nalice:{GOOD}\nbob : s:with:colons-and-length \n"
    assert parse_users(text) == {"alice": GOOD, "bob": "s:with:colons-and-length"}


@pytest.mark.parametrize(("text", "message"), [
    ("nocolon", "line 1: expected access_key:secret, found no ':'"),
    ("al:", "line 1: the access key has 2 characters; an access key is 3 to 128 letters and digits"),
    (f":{GOOD}", "line 1: the access key is empty"),
    (f"bad key!:{GOOD}", "line 1: the access key contains ' ' '!'"),
    ("alice:short", "line 1: the secret key has 5 characters; it needs at least 20"),
    (f"# c\nalice:{GOOD}\nalice:{OTHER}", "line 3: duplicate access key alice"),
])
def test_bad_users_files_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CredentialsError) as info:
        parse_users(text, "users.txt")
    assert f"users.txt {message}" in str(info.value)


@pytest.mark.parametrize(("env", "message"), [
    ({"FRAGSTORE_ACCESS_KEY": "ab", "FRAGSTORE_SECRET_KEY": GOOD},
     "FRAGSTORE_ACCESS_KEY: the access key has 2 characters; an access key is 3 to 128 letters and digits"),
    ({"FRAGSTORE_ACCESS_KEY": "A" * 129, "FRAGSTORE_SECRET_KEY": GOOD}, "the access key has 129 characters"),
    ({"FRAGSTORE_ACCESS_KEY": "my_key", "FRAGSTORE_SECRET_KEY": GOOD}, "the access key contains '_'"),
    ({"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": "s"},
     "FRAGSTORE_SECRET_KEY: the secret key has 1 character; it needs at least 20"),
    ({"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": "secretexample"}, "has 13 characters"),
    ({"FRAGSTORE_ACCESS_KEY": "ROOTKEY"},
     "FRAGSTORE_ACCESS_KEY is set but FRAGSTORE_SECRET_KEY is not: set both, or neither"),
    ({"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": ""}, "FRAGSTORE_SECRET_KEY is not"),
    ({"FRAGSTORE_SECRET_KEY": GOOD}, "FRAGSTORE_SECRET_KEY is set but FRAGSTORE_ACCESS_KEY is not"),
    ({"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": "changeme-changeme-changeme"},
     "looks like a placeholder (it says 'change me')"),
    ({"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
     "looks like a placeholder (it says 'example')"),
    ({"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": "a" * 40}, "it is one character repeated"),
    ({"FRAGSTORE_ACCESS_KEY": "ROOTKEYROOTKEYROOTKEY", "FRAGSTORE_SECRET_KEY": "ROOTKEYROOTKEYROOTKEY"},
     "it is the access key"),
])
def test_bad_environment_pairs_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(CredentialsError) as info:
        env_pair(env)
    assert message in str(info.value)
    secret = env.get("FRAGSTORE_SECRET_KEY")
    assert not secret or len(secret) < 3 or secret not in str(info.value)


def test_the_docker_example_placeholder_is_refused() -> None:
    values = dict(line.split("=", 1) for line in DOCKER_EXAMPLE.read_text().splitlines()
                  if line.startswith("FRAGSTORE_"))
    with pytest.raises(CredentialsError, match=r"FRAGSTORE_SECRET_KEY: the secret key looks like a placeholder"):
        env_pair(values)


def test_neither_variable_means_none() -> None:
    assert env_pair({}) is None and env_pair({"FRAGSTORE_ACCESS_KEY": "", "FRAGSTORE_SECRET_KEY": ""}) is None


def test_root_pair_generated_once(tmp_path: Path) -> None:
    said: list[str] = []
    first, source = root_pair(tmp_path, {}, said.append)
    assert len(said) == 1 and first[0] in said[0] and first[1] in said[0]
    assert "generated" in source
    assert stat.S_IMODE((tmp_path / ROOT_FILE).stat().st_mode) == 0o600
    assert root_pair(tmp_path, {}, said.append)[0] == first
    assert len(said) == 1


def test_environment_pair_is_saved_on_the_first_start(tmp_path: Path) -> None:
    env = {"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": GOOD}
    users = tmp_path / "users"
    users.write_text(f"alice:{OTHER}\n")
    creds = load_credentials(tmp_path, users, env)
    assert creds.root_access_key == "ROOTKEY" and "saved to" in creds.root_source
    assert creds.secret_for("alice") == OTHER and creds.secret_for("ROOTKEY") == GOOD
    assert creds.secret_for("nobody") is None
    assert (tmp_path / ROOT_FILE).read_text() == f"ROOTKEY:{GOOD}\n"
    assert stat.S_IMODE((tmp_path / ROOT_FILE).stat().st_mode) == 0o600
    again = load_credentials(tmp_path, None, {})  # later starts: the file, with or without the variables
    assert (again.root_access_key, again.secret_for("ROOTKEY")) == ("ROOTKEY", GOOD)
    assert "unset" in again.root_source
    assert "same pair" in load_credentials(tmp_path, None, env).root_source


@pytest.mark.parametrize(("key", "secret", "said"), [
    ("OTHERKEY", OTHER, "access key OTHERKEY)"),
    ("ROOTKEY", OTHER, "access key ROOTKEY with another secret"),
])
def test_a_different_environment_pair_is_refused_naming_both(tmp_path: Path, key: str, secret: str, said: str) -> None:
    root_pair(tmp_path, {"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": GOOD})
    env = {"FRAGSTORE_ACCESS_KEY": key, "FRAGSTORE_SECRET_KEY": secret}
    for attempt in (lambda: root_pair(tmp_path, env), lambda: resolve_root(tmp_path, env)):
        with pytest.raises(CredentialsError) as info:
            attempt()
        text = str(info.value)
        assert said in text and f"{tmp_path / ROOT_FILE} holds access key ROOTKEY" in text
        assert f"fragstore rotate-root-key --data {tmp_path}" in text
        assert GOOD not in text and OTHER not in text
    assert (tmp_path / ROOT_FILE).read_text() == f"ROOTKEY:{GOOD}\n"


def test_rotate_replaces_the_pair(tmp_path: Path) -> None:
    root_pair(tmp_path, {"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": GOOD})
    assert rotate_root(tmp_path, {"FRAGSTORE_ACCESS_KEY": "NEWKEY", "FRAGSTORE_SECRET_KEY": OTHER}) == ("ROOTKEY", "NEWKEY")
    assert (tmp_path / ROOT_FILE).read_text() == f"NEWKEY:{OTHER}\n"
    said: list[str] = []
    assert rotate_root(tmp_path, {}, said.append) == ("NEWKEY", "NEWKEY")  # the same key, a new secret
    secret = (tmp_path / ROOT_FILE).read_text().strip().partition(":")[2]
    assert secret != OTHER and len(secret) >= 20 and secret in said[0]
    assert stat.S_IMODE((tmp_path / ROOT_FILE).stat().st_mode) == 0o600


def test_rotate_keeps_an_access_key_that_owns_buckets(tmp_path: Path) -> None:
    root_pair(tmp_path, {"FRAGSTORE_ACCESS_KEY": "ROOTKEY", "FRAGSTORE_SECRET_KEY": GOOD})
    owned = {"ROOTKEY": ["photos", "models", "logs", "tmp"]}
    with pytest.raises(CredentialsError) as info:
        rotate_root(tmp_path, {"FRAGSTORE_ACCESS_KEY": "NEWKEY", "FRAGSTORE_SECRET_KEY": OTHER},
                    owned=lambda key: owned.get(key, []))
    assert "access key ROOTKEY owns 4 buckets (photos, models, logs and 1 more)" in str(info.value)
    assert "set FRAGSTORE_ACCESS_KEY=ROOTKEY with the new FRAGSTORE_SECRET_KEY" in str(info.value)
    assert (tmp_path / ROOT_FILE).read_text() == f"ROOTKEY:{GOOD}\n"
