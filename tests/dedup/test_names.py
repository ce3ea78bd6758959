"""S3 naming rules: bucket names (validate_bucket_name and through the store)
and object keys (encode_key)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup import errors
from dedup.names import MAX_KEY_BYTES, encode_key, validate_bucket_name

GOOD = ["abc", "a" * 63, "my-bucket", "my.bucket.1", "0bucket", "bucket9", "a-b.c-d"]
BAD = [
    "", "ab", "a" * 64, "MyBucket", "my_bucket", "-bucket", "bucket-", ".bucket", "bucket.",
    "my..bucket", "my.-bucket", "my-.bucket", "192.168.1.1", "xn--bucket", "sthree-x",
    "amzn-s3-demo-x", "bucket-s3alias", "bucket--ol-s3", "bucket--x-s3", "bucket.mrap",
    "bucket--table-s3", "bücket", "bucket ", "bu/cket",
]


@pytest.mark.parametrize("name", GOOD)
def test_valid_bucket_names(name):
    validate_bucket_name(name)


@pytest.mark.parametrize("name", BAD)
def test_invalid_bucket_names(name):
    with pytest.raises(errors.InvalidBucketName):
        validate_bucket_name(name)


@pytest.mark.parametrize("name", ["ab", "Upper", "192.168.1.1", "a" * 64])
def test_store_refuses_invalid_bucket_names(store, run, name):
    with pytest.raises(errors.InvalidBucketName):
        run(store.create_bucket(name, "owner"))
    assert run(store.list_buckets()) == []


@given(st.text(st.sampled_from("abz09.-"), min_size=3, max_size=63))
def test_bucket_rule_model(name):
    ok = (
        name[0].isalnum() and name[-1].isalnum()
        and ".." not in name and ".-" not in name and "-." not in name
        and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name) is None
    )
    try:
        validate_bucket_name(name)
    except errors.InvalidBucketName:
        assert not ok
    else:
        assert ok


def test_keys_are_utf8():
    assert encode_key("ключ") == "ключ".encode()
    assert len(encode_key("\U0001f600" * 256)) == MAX_KEY_BYTES


@pytest.mark.parametrize("key", ["", "a\x00", "\ud800", "x" * (MAX_KEY_BYTES + 1), "\U0001f600" * 256 + "x"])
def test_invalid_keys(key):
    with pytest.raises(errors.InvalidObjectKey):
        encode_key(key)
