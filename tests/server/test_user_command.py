"""``fragstore user`` on a stopped data directory, the users it keeps
(``<data>/user-credentials``), and the server that starts with them; the
users file of --users beside them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from server.auth.credentials import CredentialsError
from server.auth.users import USERS_FILE, Users
from tests.live_server import ACCESS_KEY, SECRET_KEY, clean_env, fragstore, start_server

ENV = clean_env(FRAGSTORE_ACCESS_KEY=ACCESS_KEY, FRAGSTORE_SECRET_KEY=SECRET_KEY)


def user(*args: str, data: Path) -> tuple[int, str, str]:
    done = fragstore("user", *args, "--data", str(data), env=ENV)
    return done.returncode, done.stdout, done.stderr


def secret_of(stdout: str) -> str:
    return stdout.split("secret key: ")[1].split()[0]


def test_users_on_a_stopped_directory_then_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data) as server:
        server.client().create_bucket(Bucket="roots")
    rc, out, err = user("add", "--access-key", "ALICE", data=data)
    assert rc == 0 and "asking it" not in err and "access key: ALICE" in out, err
    alice_secret = secret_of(out)
    rc, out, _ = user("add", data=data)
    generated = out.split("access key: ")[1].split()[0]
    assert rc == 0 and generated.startswith("FU") and len(generated) == 20
    path = data / USERS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"ALICE:{alice_secret}" in path.read_text()
    rc, out, _ = user("list", data=data)
    assert rc == 0 and "ALICE" in out and generated in out
    assert user("add", "--access-key", ACCESS_KEY, data=data)[0] == 2  # the root key's
    assert user("add", "--access-key", "no-dash!", data=data)[0] == 2
    rc, out, _ = user("rotate-key", "ALICE", data=data)
    new_secret = secret_of(out)
    assert rc == 0 and new_secret != alice_secret
    assert user("remove", generated, data=data)[0] == 0
    assert generated not in user("list", data=data)[1]

    with start_server(data) as server:
        alice = server.client(aws_access_key_id="ALICE", aws_secret_access_key=new_secret)
        alice.create_bucket(Bucket="alices")
        with pytest.raises(ClientError) as refused:
            server.client(aws_access_key_id="ALICE", aws_secret_access_key=alice_secret).list_buckets()
        assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        listed = fragstore("user", "list", "--data", str(data), env=server.env)
        assert listed.returncode == 0 and "ALICE" in listed.stdout and "1 bucket" in listed.stdout
    rc, _, err = user("remove", "ALICE", data=data)
    assert rc == 2 and "owns 1 bucket (alices)" in err


def test_the_users_file_is_read_only_and_apart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    users = Users(data, {"FILEUSER": "file-user-secret-0123456789"}, "ROOTKEY")
    key, _ = users.add("RUNTIME")
    assert users.listing() == [("FILEUSER", "users file"), ("RUNTIME", "runtime")]
    with pytest.raises(CredentialsError, match="edit that file"):
        users.remove("FILEUSER", [])
    with pytest.raises(CredentialsError, match="already in use"):
        users.add("FILEUSER")
    with pytest.raises(CredentialsError, match="already in use"):
        users.add("ROOTKEY")
    users.remove("RUNTIME", [])
    with pytest.raises(CredentialsError, match="removed user"):
        Users(data).add("RUNTIME")  # remembered across loads
    assert Users(data).secret_for("RUNTIME") is None
    (data / USERS_FILE).write_text("FILEUSER:another-secret-0123456789\n")
    with pytest.raises(CredentialsError, match="both in"):
        Users(data, {"FILEUSER": "file-user-secret-0123456789"})


def test_a_broken_users_file_is_refused_with_its_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / USERS_FILE).write_text("# users\nGOOD:good-secret-0123456789ab\nBAD:short\n")
    with pytest.raises(CredentialsError, match="line 3"):
        Users(data)
