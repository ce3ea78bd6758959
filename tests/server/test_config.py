"""Settings: flag > environment > config file > default, for every setting;
docs/CONFIG.md is the table of all of them; a live server obeys each source."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from server.admin.config import ServerConfig
from server.admin.settings import SETTINGS, SettingsError, markdown, resolve
from tests.live_server import ROOT, raw_request, start_server
from tests.server.promtext import scrape


def test_config_doc_is_the_settings_table() -> None:
    assert (ROOT / "docs" / "CONFIG.md").read_text() == markdown(), "regenerate: python -m server.admin.settings > docs/CONFIG.md"


def test_table_defaults_are_the_config_defaults() -> None:
    fields = {f.name: f for f in dataclasses.fields(ServerConfig)}
    assert {s.field for s in SETTINGS} == set(fields)
    for setting in SETTINGS:
        if setting.field != "data_dir":
            assert fields[setting.field].default == setting.default, setting.name


def test_every_setting_from_every_source(tmp_path: Path) -> None:
    samples = {"data": "d", "host": "0.0.0.0", "port": "9100", "region": "eu-west-3", "domain": "s3.test",
               "tls_cert": "c.pem", "tls_key": "k.pem", "users": "u.txt", "master_key_file": "mk.hex", "kms_keys": "kms.json", "log_level": "debug",
               "log_format": "json", "metrics_token": "t0k", "gc_interval": "60", "gc_grace": "5",
               "compression": "fast", "delta_depth": "3", "idle_timeout": "7", "lifecycle_interval": "30",
               "lifecycle_day_seconds": "1.5",
               "console": "off", "console_session_seconds": "60", "history_interval": "0",
               "index": "postgresql://u:p@db.example:5432/fragstore", "workers": "3",
               "packs": "s3://packs/gw1", "packs_endpoint": "http://127.0.0.1:9200", "packs_access_key": "AK1",
               "packs_secret_key": "secret-key-1", "packs_region": "eu-west-1", "packs_cache": "1048576"}
    assert set(samples) == {s.name for s in SETTINGS}
    config_file = tmp_path / "conf" / "fragstore.toml"
    config_file.parent.mkdir()
    config_file.write_text("".join(f'{name} = "{value}"\n' for name, value in samples.items()))
    from_file = resolve({"config": config_file}, {})
    for setting in SETTINGS:
        text = samples[setting.name]
        partner = {"tls_cert": "FRAGSTORE_TLS_KEY", "tls_key": "FRAGSTORE_TLS_CERT"}.get(setting.name)
        others = {partner: "other.pem"} if partner else {}  # the TLS pair goes together
        from_env = resolve({}, {setting.env: text, **others})
        from_flag = resolve({setting.name: setting.parse(text)}, {setting.env: "ignored", **others})
        expected = setting.parse(text)
        if setting.path:
            assert from_file.values[setting.name] == config_file.parent / text  # relative to the file
        else:
            assert from_file.values[setting.name] == expected
        assert from_file.sources[setting.name] == f"file {config_file}"
        assert from_env.values[setting.name] == expected and from_env.sources[setting.name] == f"env {setting.env}"
        assert from_flag.values[setting.name] == expected and from_flag.sources[setting.name] == "flag"


def test_precedence() -> None:
    env = {"FRAGSTORE_PORT": "9200", "FRAGSTORE_REGION": "", "FRAGSTORE_GC_INTERVAL": "7"}
    resolved = resolve({"port": 9300}, env)
    assert resolved.values["port"] == 9300  # flag over env
    assert resolved.values["region"] == "us-east-1" and resolved.sources["region"] == "default"  # empty: unset
    assert resolved.values["gc_interval"] == 7.0
    config = resolved.server_config()
    assert config.port == 9300 and config.gc_interval == 7.0 and config.store_config().manifest_grace_seconds == 300.0
    assert config.lifecycle_interval == 3600.0 and config.store_config().lifecycle_day_seconds == 86400.0
    assert resolve({"lifecycle_day_seconds": 2.0}, {}).server_config().store_config().lifecycle_day_seconds == 2.0
    assert resolve({}, {"FRAGSTORE_DELTA_DEPTH": "0"}).server_config().store_config().delta_depth == 0


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_text("port = 9400\ngc_grace = 1.5\ndata = '/abs/data'\n")
    resolved = resolve({}, {"FRAGSTORE_CONFIG": str(path), "FRAGSTORE_GC_GRACE": "2"})
    assert resolved.values["port"] == 9400
    assert resolved.values["gc_grace"] == 2.0  # env over file
    assert resolved.values["data"] == Path("/abs/data")


@pytest.mark.parametrize(("flags", "env", "text", "message"), [
    ({}, {"FRAGSTORE_PORT": "http"}, None, "FRAGSTORE_PORT"),
    ({}, {"FRAGSTORE_GC_INTERVAL": "-1"}, None, "FRAGSTORE_GC_INTERVAL"),
    ({}, {"FRAGSTORE_LOG_FORMAT": "xml"}, None, "FRAGSTORE_LOG_FORMAT"),
    ({}, {"FRAGSTORE_LIFECYCLE_DAY_SECONDS": "0"}, None, "FRAGSTORE_LIFECYCLE_DAY_SECONDS"),
    ({}, {}, "lifecycle_interval = -5\n", "lifecycle_interval"),
    ({}, {"FRAGSTORE_DELTA_DEPTH": "17"}, None, "FRAGSTORE_DELTA_DEPTH"),
    ({}, {}, "delta_depth = -1\n", "delta_depth"),
    ({}, {}, "prot = 9000\n", "unknown setting 'prot'"),
    ({}, {}, "port = true\n", "port"),
    ({}, {}, "port = 70000\n", "port"),
    ({}, {}, "port = [", "config file"),
    ({"tls_cert": Path("c.pem")}, {}, None, "go together"),
])
def test_bad_settings_are_refused(tmp_path: Path, flags: dict[str, object], env: dict[str, str],
                                  text: str | None, message: str) -> None:
    if text is not None:
        path = tmp_path / "bad.toml"
        path.write_text(text)
        flags = {**flags, "config": path}
    with pytest.raises(SettingsError, match=message):
        resolve(flags, env)


def test_cli_reports_bad_settings(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("colour = 'blue'\n")
    done = subprocess.run([sys.executable, "-m", "server", "serve", "--config", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown setting 'colour'" in done.stderr
    bad_flag = subprocess.run([sys.executable, "-m", "server", "serve", "--port", "0"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad_flag.returncode == 2 and "port" in bad_flag.stderr


def test_live_server_obeys_each_source(tmp_path: Path) -> None:
    """Region from the file; metrics token from the environment over the file's;
    port from the flag over the environment."""
    config = tmp_path / "fragstore.toml"
    config.write_text('region = "eu-central-1"\nmetrics_token = "file-token"\ngc_interval = 0\n')
    env = {"FRAGSTORE_CONFIG": str(config), "FRAGSTORE_METRICS_TOKEN": "env-token", "FRAGSTORE_PORT": "1"}
    with start_server(tmp_path / "data", env=env) as server:  # the harness passes --port
        eu = server.client(region_name="eu-central-1")
        eu.create_bucket(Bucket="regional", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        with pytest.raises(ClientError) as refused:
            server.client(region_name="us-east-1").list_buckets()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
        assert scrape(server, token="env-token").has("fragstore_logical_bytes")
        denied = raw_request(server, "GET", "/_fragstore/metrics", sign=False,
                             headers={"Authorization": "Bearer file-token"})
        assert denied.status == 403 and ET.fromstring(denied.body).findtext("Code") == "AccessDenied"
