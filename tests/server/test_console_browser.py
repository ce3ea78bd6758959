"""The console in a real browser: Debian's Chromium, headless, driven by
Selenium (tests/server/browser.py). The issue's walk-through, then the
refusals (wrong secret, no CSRF token, logged out), escaping as the browser
sees it, labels, keyboard and a phone-sized screen."""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer
from tests.server.browser import Browser, browser_or_skip, wait_for

BASE = "/_fragstore/console"
TWENTY_MB = 20_000_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = browser_or_skip()
    try:
        yield b
    finally:
        b.quit()


@pytest.fixture
def driver(browser: Browser) -> Any:
    browser.driver.delete_all_cookies()
    browser.driver.set_window_size(1280, 900)
    return browser.driver


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def log_in(driver: Any, server: LiveServer, secret: str | None = None) -> None:
    driver.get(server.url + BASE + "/login")
    by_css(driver, "#access_key").send_keys(server.access_key)
    by_css(driver, "#secret_key").send_keys(secret if secret is not None else server.secret_key)
    by_css(driver, "#secret_key").submit()


def submit_confirmed(driver: Any, button: Any) -> None:
    """Click a button whose form asks "are you sure?" (data-confirm) and say yes."""
    driver.execute_script("window.confirm = () => true;")
    button.click()


def test_walk_through(live_server: LiveServer, driver: Any, s3: Any, tmp_path: Path) -> None:
    # log in
    log_in(driver, live_server)
    wait_for(lambda: driver.current_url.endswith(BASE + "/buckets"), what="the buckets page")
    assert live_server.access_key in by_css(driver, ".who").text
    session = driver.get_cookie("fragstore_console")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert driver.execute_script("return document.cookie") == ""  # nothing a script can read
    assert driver.execute_script("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)") == "{}{}"

    # create a bucket
    name = f"tour-{uuid.uuid4().hex[:12]}"
    by_css(driver, "#bucket-name").send_keys(name)
    by_css(driver, "#bucket-name").submit()
    wait_for(lambda: driver.current_url.endswith(f"/b/{name}"), what="the new bucket's page")
    s3.head_bucket(Bucket=name)

    # keep versions, so that the upload has one to open
    driver.get(live_server.url + f"{BASE}/b/{name}/settings")
    by_css(driver, "#versioning button[type=submit]").click()
    wait_for(lambda: by_css(driver, "#versioning-state").text == "enabled", what="versioning enabled")

    # upload a 20 MB file by the file input; it is listed with its size
    path = tmp_path / "twenty.bin"
    path.write_bytes(os.urandom(TWENTY_MB))
    driver.get(live_server.url + f"{BASE}/b/{name}")
    by_css(driver, "#file-input").send_keys(str(path))
    wait_for(lambda: all_css(driver, "#upload-list progress"), what="a progress bar")
    row = wait_for(lambda: [r for r in all_css(driver, "#objects tr.object") if "twenty.bin" in r.text],
                   timeout=180, what="the uploaded file in the list")[0]
    size = row.find_element("css selector", "td.num")
    assert size.get_attribute("data-bytes") == str(TWENTY_MB) and size.text == "19.1 MiB"
    head = s3.head_object(Bucket=name, Key="twenty.bin")
    assert head["ContentLength"] == TWENTY_MB and head["ETag"].endswith('-3"')  # three 8 MiB parts
    body = s3.get_object(Bucket=name, Key="twenty.bin")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(path.read_bytes()).digest()

    # open its versions
    row.find_element("css selector", "th a").click()
    wait_for(lambda: all_css(driver, "#versions tbody tr"), what="the versions table")
    versions = all_css(driver, "#versions tbody tr")
    assert len(versions) == 1 and head["VersionId"] in versions[0].text and "current" in versions[0].text

    # make a presigned link and fetch it
    by_css(driver, "#expires").send_keys("1 hour")
    by_css(driver, "#expires").submit()
    link = wait_for(lambda: by_css(driver, "#presigned-link").get_attribute("value"), what="the link")
    assert "X-Amz-Signature=" in link and live_server.secret_key not in link
    with urllib.request.urlopen(link) as answer:
        assert hashlib.sha256(answer.read()).digest() == hashlib.sha256(body).digest()

    # set a lifecycle rule and see it through boto3
    driver.get(live_server.url + f"{BASE}/b/{name}/settings")
    by_css(driver, "#kind-keep").click()
    versions_field = by_css(driver, "#keep-versions")
    versions_field.clear()
    versions_field.send_keys("2")
    by_css(driver, "#rule-prefix").send_keys("checkpoints/")
    by_css(driver, ".rule-form button[type=submit]").click()
    wait_for(lambda: "keep the 2 newest noncurrent versions" in by_css(driver, "#rules").text, what="the rule")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] == 2
    assert rules[0]["Filter"] == {"Prefix": "checkpoints/"} and rules[0]["Status"] == "Enabled"

    # log out and be refused
    old = driver.get_cookie("fragstore_console")
    by_css(driver, "form.logout button").click()
    wait_for(lambda: driver.current_url.endswith(BASE + "/login"), what="the login page")
    assert driver.get_cookie("fragstore_console") is None
    driver.get(live_server.url + f"{BASE}/b/{name}")
    assert driver.current_url.endswith(BASE + "/login")
    driver.add_cookie({"name": "fragstore_console", "value": old["value"], "path": old["path"]})
    driver.get(live_server.url + f"{BASE}/b/{name}")
    assert driver.current_url.endswith(BASE + "/login") and "twenty.bin" not in driver.page_source


def test_wrong_secret_is_refused(live_server: LiveServer, driver: Any) -> None:
    log_in(driver, live_server, secret="this-is-not-the-secret-0000")
    error = wait_for(lambda: by_css(driver, "#login-error"), what="the error")
    assert "Wrong access key or secret key" in error.text
    assert driver.current_url.endswith(BASE + "/login") and driver.get_cookie("fragstore_console") is None


def test_request_without_csrf_token_is_refused(live_server: LiveServer, driver: Any, s3: Any) -> None:
    log_in(driver, live_server)
    wait_for(lambda: driver.current_url.endswith("/buckets"), what="the buckets page")
    name = f"nocsrf-{uuid.uuid4().hex[:12]}"
    # the page's own form, its token taken out
    driver.execute_script("document.querySelector('#bucket-name').form.querySelector('[name=csrf_token]').remove()")
    by_css(driver, "#bucket-name").send_keys(name)
    by_css(driver, "#bucket-name").submit()
    wait_for(lambda: "InvalidCsrfToken" in driver.page_source, what="the refusal")
    # and a script's request without the header
    status = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"fetch('{BASE}/api/b/{name}/uploads', {{method: 'POST', body: '{{\"key\": \"k\"}}'}})"
        ".then(r => done(r.status));")
    assert status == 403
    bucket_names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert name not in bucket_names


def test_hostile_keys_stay_text(live_server: LiveServer, driver: Any, s3: Any, bucket: str) -> None:
    keys = ["<script>window.pwned = 1</script>", '<img src=x onerror="window.pwned = 2">.png']
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", Metadata={"m": "<svg onload=window.pwned=3>"})
    log_in(driver, live_server)
    wait_for(lambda: driver.current_url.endswith("/buckets"), what="the buckets page")
    driver.get(live_server.url + f"{BASE}/b/{bucket}")
    assert [a.text for a in all_css(driver, "#objects tr.object th a")] == [keys[1]]
    assert [a.text for a in all_css(driver, "#objects tr.folder th a")] == ["<script>window.pwned = 1</"]
    assert driver.execute_script("return window.pwned") is None
    driver.get(live_server.url + f"{BASE}/b/{bucket}/object?key=" + urllib.request.quote(keys[0], safe=""))
    assert by_css(driver, "h1").text == keys[0]
    assert "<svg onload=window.pwned=3>" in by_css(driver, "#user-metadata").text
    assert driver.execute_script("return window.pwned") is None


PAGES = ("/buckets", "/b/{bucket}", "/b/{bucket}/object?key=doc.txt", "/b/{bucket}/settings", "/status",
         "/savings", "/users")


def test_every_control_has_a_name_and_the_keyboard_reaches_the_content(
        live_server: LiveServer, driver: Any, s3: Any, bucket: str) -> None:
    from selenium.webdriver.common.keys import Keys

    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"doc")
    log_in(driver, live_server)
    wait_for(lambda: driver.current_url.endswith("/buckets"), what="the buckets page")
    unnamed = """return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML);"""
    for page in PAGES:
        driver.get(live_server.url + BASE + page.format(bucket=bucket))
        assert driver.execute_script(unnamed) == [], page
        assert driver.execute_script("return document.documentElement.lang") == "en"
        assert len(all_css(driver, "h1")) == 1 and all_css(driver, "main#main"), page
    driver.get(live_server.url + BASE + "/buckets")
    by_css(driver, "body").send_keys(Keys.TAB)
    first = driver.switch_to.active_element
    assert first.text == "Skip to content"
    first.send_keys(Keys.ENTER)
    assert driver.execute_script("return location.hash") == "#main"


def test_usable_on_a_phone(live_server: LiveServer, driver: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a/rather/long/key/name/that/goes/on/and/on/for/a/while.txt", Body=b"x")
    log_in(driver, live_server)
    wait_for(lambda: driver.current_url.endswith("/buckets"), what="the buckets page")
    driver.set_window_size(390, 844)
    for page in PAGES:
        driver.get(live_server.url + BASE + page.format(bucket=bucket).replace("doc.txt", "a/rather/long/key/"
                                                                                          "name/that/goes/on/and/on/for/a/while.txt"))
        overflow = driver.execute_script("return document.body.scrollWidth - window.innerWidth")
        wide = driver.execute_script(
            "return [...document.querySelectorAll('body *')].filter(e => !e.closest('.table-wrap, .chart-wrap'))"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
            ".map(e => e.tagName + '.' + e.className + '#' + e.id)")
        assert overflow <= 0, (page, overflow, wide)  # wide tables scroll inside their own box, not the page


# WCAG 2.1 contrast of every visible text element against the first opaque
# background behind it, as the browser computed them (AA: 4.5, 3 for large
# text: >= 24 px, or >= 18.66 px bold). Text drawn over an image is skipped.
LOW_CONTRAST = """
const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
const behind = e => {
  for (let n = e; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (getComputedStyle(n).backgroundImage !== 'none') return null;
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const low = [];
for (const e of document.querySelectorAll('body *')) {
  const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const box = e.getBoundingClientRect();
  const style = getComputedStyle(e);
  if (!own || box.width === 0 || style.visibility === 'hidden' || e.closest('.visually-hidden, [hidden]')) continue;
  const bg = behind(e);
  if (!bg) continue;
  const fg = rgb(style.color), alpha = fg.length === 4 ? fg[3] * Number(style.opacity) : Number(style.opacity);
  const seen = fg.slice(0, 3).map((v, i) => v * alpha + bg[i] * (1 - alpha));
  const [a, b] = [lum(seen), lum(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < need) low.push(`${e.tagName}.${e.className} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
}
return low;
"""


def test_text_meets_wcag_aa_contrast(live_server: LiveServer, driver: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"doc")
    log_in(driver, live_server)
    wait_for(lambda: driver.current_url.endswith("/buckets"), what="the buckets page")
    checked = 0
    for page in PAGES:
        driver.get(live_server.url + BASE + page.format(bucket=bucket))
        assert driver.execute_script(LOW_CONTRAST) == [], page
        checked += driver.execute_script("return document.querySelectorAll('main *').length")
    assert checked > 100  # the pages had content to check
    driver.get(live_server.url + BASE + "/login")  # the login page, logged in or not, and an error
    assert driver.execute_script(LOW_CONTRAST) == []
