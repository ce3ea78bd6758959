"""Credentials: users file format, generated root pair kept with mode 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.auth.credentials import (
    ROOT_FILE,
    CredentialsError,
    load_credentials,
    parse_users,
    root_pair,
)


def test_users_file_format() -> None:
    text = "# comment\n\nalice:secret-a\nbob : s:with:colons \n"
    assert parse_users(text) == {"alice": "secret-a", "bob": "s:with:colons"}


@pytest.mark.parametrize("text", ["nocolon", "a:", ":secret", "bad key!:x", "al:one\nal:two"])
def test_bad_users_files(text: str) -> None:
    with pytest.raises(CredentialsError):
        parse_users(text)


def test_root_pair_generated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAGSTORE_ACCESS_KEY", raising=False)
    monkeypatch.delenv("FRAGSTORE_SECRET_KEY", raising=False)
    said: list[str] = []
    first = root_pair(tmp_path, said.append)
    assert len(said) == 1 and first[0] in said[0] and first[1] in said[0]
    assert stat.S_IMODE((tmp_path / ROOT_FILE).stat().st_mode) == 0o600
    assert root_pair(tmp_path, said.append) == first
    assert len(said) == 1


def test_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAGSTORE_ACCESS_KEY", "ROOTKEY")
    monkeypatch.setenv("FRAGSTORE_SECRET_KEY", "rootsecret")
    users = tmp_path / "users"
    users.write_text("alice:a-secret\n")
    creds = load_credentials(tmp_path, users)
    assert creds.root_access_key == "ROOTKEY"
    assert creds.secret_for("alice") == "a-secret" and creds.secret_for("ROOTKEY") == "rootsecret"
    assert creds.secret_for("nobody") is None
    assert not (tmp_path / ROOT_FILE).exists()
