"""Virtual-hosted-style addressing (bucket.DOMAIN) when --domain is given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer, start_server

DOMAIN = "s3.fragstore.test"


@pytest.fixture(scope="module")
def vhost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(Path(tmp_path_factory.mktemp("vhost")) / "data", extra_args=["--domain", DOMAIN]) as server:
        yield server


def test_virtual_hosted_and_path_style_side_by_side(vhost: LiveServer) -> None:
    host = f"vbucket.{DOMAIN}:{vhost.port}"
    assert vhost.raw("PUT", "/", host=host).status == 200
    assert vhost.raw("PUT", "/dir/key%20one", host=host, body=b"hosted").status == 200
    got = vhost.raw("GET", "/dir/key%20one", host=host)
    assert got.status == 200 and got.body == b"hosted"
    listing = vhost.raw("GET", "/?list-type=2", host=host)
    assert b"<Key>dir/key one</Key>" in listing.body and b"<Name>vbucket</Name>" in listing.body
    s3 = vhost.client()  # path style on the same server
    assert s3.get_object(Bucket="vbucket", Key="dir/key one")["Body"].read() == b"hosted"
    assert vhost.raw("GET", "/vbucket/dir/key%20one", host=f"{DOMAIN}:{vhost.port}").body == b"hosted"
