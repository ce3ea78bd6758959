"""Screenshots of every console page, for docs/console/ and the README.

    .venv/bin/python tests/server/console_screenshots.py docs/console

Starts a server of its own on a temporary directory, fills it through boto3
(a dataset with repeated files, a versioned bucket of checkpoints, lifecycle
rules, a second user), logs in with Debian's Chromium (tests/server/browser.py)
and saves each page, whole, at a laptop's width, and a few at a phone's
(made smaller by pngquant when it is installed: apt-get install pngquant).

The savings dashboard needs days of history, and a fresh server has one: the
script writes the history's lines itself from the server's own samples
(``GET /_fragstore/history``) taken after each stage of the workload, dated one
day apart and ending yesterday, then restarts the server, so that today is
what the browser uploads. The numbers are real; the dates are made up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.live_server import LiveServer, start_server  # noqa: E402
from tests.server.browser import Browser, wait_for  # noqa: E402

BASE = "/_fragstore/console"
ALICE = ("ALICE", "alice-secret-1a2b3c4d5e6f")


def history_now(server: LiveServer) -> dict[str, object]:
    return dict(json.loads(server.raw("GET", "/_fragstore/history", payload_hash="UNSIGNED-PAYLOAD").body)["now"])


def fill(server: LiveServer) -> list[dict[str, object]]:
    """The workload, in stages; the server's sample after each."""
    s3 = server.client()
    samples = []
    rng = __import__("random").Random(7)
    s3.create_bucket(Bucket="datasets")
    s3.create_bucket(Bucket="checkpoints")
    s3.put_bucket_versioning(Bucket="checkpoints", VersioningConfiguration={"Status": "Enabled"})
    images = [rng.randbytes(150_000) for _ in range(12)]
    for i, image in enumerate(images):
        s3.put_object(Bucket="datasets", Key=f"faces/train/img{i:03}.png", Body=image, ContentType="image/png")
    samples.append(history_now(server))
    for i, image in enumerate(images[:8]):  # a second copy of most of the set
        s3.put_object(Bucket="datasets", Key=f"faces/val/img{i:03}.png", Body=image, ContentType="image/png")
    s3.put_object(Bucket="datasets", Key="faces/README.md", Body=b"# Faces\n\n" + b"Synthetic faces. " * 400,
                  ContentType="text/markdown", Metadata={"source": "generated", "license": "CC0"})
    s3.put_object_tagging(Bucket="datasets", Key="faces/README.md",
                          Tagging={"TagSet": [{"Key": "team", "Value": "vision"}]})
    samples.append(history_now(server))
    weights = bytearray(rng.randbytes(4_000_000))
    for epoch in range(1, 5):
        for _ in range(12):  # a fine-tune of a few layers: most fragments stay the same
            weights[rng.randrange(len(weights))] = rng.randrange(256)
        s3.put_object(Bucket="checkpoints", Key="gan/generator.pt", Body=bytes(weights),
                      Metadata={"epoch": str(epoch)})
        log = "".join(f"epoch {epoch} step {step} loss {rng.random():.4f}\n" for step in range(40_000))
        s3.put_object(Bucket="checkpoints", Key=f"gan/log-epoch{epoch}.txt", Body=log.encode(),
                      ContentType="text/plain")
        samples.append(history_now(server))
    s3.put_bucket_lifecycle_configuration(Bucket="checkpoints", LifecycleConfiguration={"Rules": [
        {"ID": "keep-3-versions", "Filter": {"Prefix": "gan/"}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 3}},
        {"ID": "abort-uploads-after-7-days", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})
    s3.put_bucket_cors(Bucket="checkpoints", CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://notebooks.example.org"], "AllowedMethods": ["GET", "HEAD"],
         "MaxAgeSeconds": 3600}]})
    alice = server.client(aws_access_key_id=ALICE[0], aws_secret_access_key=ALICE[1])
    alice.create_bucket(Bucket="alice-scratch")
    server.raw("POST", "/_fragstore/gc?grace=0", payload_hash="UNSIGNED-PAYLOAD")
    server.raw("POST", "/_fragstore/lifecycle", payload_hash="UNSIGNED-PAYLOAD")
    return samples


def backdate(data_dir: Path, samples: list[dict[str, object]]) -> None:
    """The samples as the days before today; ``written`` per day, not since the start."""
    today = datetime.now(UTC).date()
    lines, before = [], 0
    for age, day in zip(range(len(samples), 0, -1), samples, strict=True):
        date = today - timedelta(days=age)
        written = int(str(day["written"]))
        lines.append(json.dumps({**day, "day": date.isoformat(), "written": written - before,
                                 "at": datetime(date.year, date.month, date.day, 12, tzinfo=UTC).timestamp()}))
        before = written
    (data_dir / "stats-history.jsonl").write_text("\n".join(lines) + "\n")


def shoot(browser: Browser, url: str, path: Path, width: int) -> None:
    """The whole page at a laptop's width; a phone's screen (390 x 844) at a phone's."""
    driver = browser.driver
    driver.set_window_size(width, 844 if width < 500 else 900)
    driver.get(url)
    time.sleep(0.3)
    if width >= 500:
        full_height(driver, width)
    save(driver, path)


def full_height(driver: Any, width: int) -> None:
    """Make the viewport as tall as the page (the window's own bars added)."""
    height, chrome = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]")
    driver.set_window_size(width, min(max(height, 600), 3000) + chrome)
    time.sleep(0.2)


def save(driver: Any, path: Path) -> None:
    """A screenshot, made smaller with pngquant where it is installed."""
    driver.save_screenshot(str(path))
    if shutil.which("pngquant"):
        subprocess.run(["pngquant", "--quality=70-95", "--speed", "1", "--strip", "--force", "--output",
                        str(path), str(path)], check=True)
    print(f"{path} ({path.stat().st_size // 1024} kB)")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="fragstore-shots-"))
    users = root / "users.txt"
    users.write_text(f"{ALICE[0]}:{ALICE[1]}\n")
    args = ["--users", str(users), "--history-interval", "0"]
    with start_server(root / "data", extra_args=args) as server:
        samples = fill(server)
    backdate(root / "data", samples)
    with start_server(root / "data", extra_args=args) as server:
        browser = Browser(1280, 900)
        try:
            d = browser.driver
            url = server.url + BASE
            shoot(browser, url + "/login", out / "login.png", 1280)
            d.find_element("css selector", "#access_key").send_keys(server.access_key)
            d.find_element("css selector", "#secret_key").send_keys(server.secret_key)
            d.find_element("css selector", "#secret_key").submit()
            wait_for(lambda: d.current_url.endswith("/buckets"), what="the buckets page")
            shoot(browser, url + "/buckets", out / "buckets.png", 1280)
            shoot(browser, url + "/b/datasets?prefix=faces/train/", out / "objects.png", 1280)
            d.find_element("css selector", "#file-input").send_keys(_upload_file(root))
            wait_for(lambda: d.execute_script("const p = document.querySelector('#upload-list progress');"
                                              "return p && p.value / p.max > 0.4"), what="an upload under way")
            save(d, out / "upload.png")
            time.sleep(3)
            d.get(url + "/b/checkpoints/object?key=gan/generator.pt")
            d.find_element("css selector", "#expires").submit()
            wait_for(lambda: d.find_element("css selector", "#presigned-link"), what="the link")
            full_height(d, 1280)
            save(d, out / "object.png")
            shoot(browser, url + "/b/checkpoints/settings", out / "settings.png", 1280)
            d.get(url + "/status")
            d.find_element("css selector", "#gc-title ~ form button").click()  # one GC run to show
            wait_for(lambda: "GC done" in d.page_source, what="the GC run")
            shoot(browser, url + "/status", out / "status.png", 1280)
            shoot(browser, url + "/savings", out / "savings.png", 1280)
            shoot(browser, url + "/users", out / "users.png", 1280)
            shoot(browser, url + "/b/no-such-bucket", out / "error.png", 1280)
            shoot(browser, url + "/b/datasets?prefix=faces/", out / "phone-objects.png", 390)
            shoot(browser, url + "/buckets", out / "phone-buckets.png", 390)
        finally:
            browser.quit()


def _upload_file(root: Path) -> str:
    path = root / "epoch-5-generator.pt"
    path.write_bytes(os.urandom(40_000_000))
    return str(path)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console"))
