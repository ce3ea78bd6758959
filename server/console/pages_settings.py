"""A bucket's settings: versioning, lifecycle rules, policy (public read of a
prefix), CORS. Each is read and written with the S3 operation that owns it,
as the user; what the server answers (a validation error, NotImplemented) is
shown as it is."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from starlette.responses import Response

from server.console import s3read
from server.console.policy import PolicyError, check_policy, with_public_read
from server.console.s3call import Answer
from server.console.visit import Visit, console_url
from server.s3.errors import S3Error
from server.s3.xmlparse import children, local
from server.s3.xmlrender import Node, document

CORS_EXAMPLE = """<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>https://example.org</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <MaxAgeSeconds>3600</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>
"""


async def _optional(v: Visit, bucket: str, query: dict[str, str], missing: str) -> tuple[Answer | None, str | None]:
    """(the answer, None), (None, None) when the configuration does not exist
    (S3 code ``missing``), or (None, "Code: message") for any other refusal."""
    try:
        return await v.s3.read("GET", bucket, query=query), None
    except S3Error as exc:
        if exc.code == missing:
            return None, None
        return None, f"{exc.code}: {exc.message}"


async def settings_page(v: Visit) -> Response:
    bucket = v.params["bucket"]
    versioning = s3read.versioning_state(await v.s3.read("GET", bucket, query={"versioning": ""}))
    lifecycle, lifecycle_error = await _optional(v, bucket, {"lifecycle": ""}, "NoSuchLifecycleConfiguration")
    policy, policy_error = await _optional(v, bucket, {"policy": ""}, "NoSuchBucketPolicy")
    cors, cors_error = await _optional(v, bucket, {"cors": ""}, "NoSuchCORSConfiguration")
    return v.render(
        "settings.html", bucket=bucket, versioning=versioning,
        rules=s3read.lifecycle_rules(lifecycle) if lifecycle else [],
        lifecycle_xml=s3read.pretty_xml(lifecycle.body) if lifecycle else "", lifecycle_error=lifecycle_error,
        policy=policy.body.decode() if policy else "", policy_error=policy_error,
        policy_unavailable=policy_error is not None and policy_error.startswith("NotImplemented"),
        cors=s3read.pretty_xml(cors.body) if cors else "", cors_error=cors_error, cors_example=CORS_EXAMPLE,
    )


def _back(bucket: str, part: str) -> str:
    return console_url(f"/b/{bucket}/settings") + f"#{part}"


async def put_versioning(v: Visit) -> Response:
    bucket = v.params["bucket"]
    state = (await v.form()).get("state", "")
    try:
        await v.s3.read("PUT", bucket, query={"versioning": ""},
                        body=document("VersioningConfiguration", [("Status", state)]))
    except S3Error as exc:
        v.flash(f"Versioning not changed: {exc.code}: {exc.message}", "error")
        return v.redirect(_back(bucket, "versioning"))
    v.flash(f"Versioning is now {state.lower()}.")
    return v.redirect(_back(bucket, "versioning"))


# -- lifecycle -------------------------------------------------------------------------
def _node(element: Element) -> Node:
    kids = list(element)
    return (local(element.tag), [_node(k) for k in kids] if kids else (element.text or ""))


async def _current_rules(v: Visit, bucket: str) -> list[Element]:
    answer, error = await _optional(v, bucket, {"lifecycle": ""}, "NoSuchLifecycleConfiguration")
    if error is not None:
        raise S3Error("InvalidRequest", f"The current lifecycle configuration could not be read ({error}).")
    return children(answer.xml(), "Rule") if answer else []


def _positive(form: dict[str, str], name: str, label: str) -> int:
    try:
        value = int(form.get(name, ""))
    except ValueError:
        raise ValueError(f"{label} must be a whole number") from None
    if value < 1:
        raise ValueError(f"{label} must be 1 or more")
    return value


def new_rule(form: dict[str, str], taken: set[str]) -> Node:
    """The rule the lifecycle form asks for; ValueError naming a bad field."""
    kind, prefix = form.get("kind", ""), form.get("prefix", "")
    if kind == "expire":
        days = _positive(form, "days", "Days")
        action: Node = ("Expiration", [("Days", days)])
        name = f"expire-after-{days}-days"
    elif kind == "keep":
        versions = _positive(form, "versions", "Versions to keep")
        days = _positive(form, "noncurrent_days", "Days")
        action = ("NoncurrentVersionExpiration", [("NoncurrentDays", days), ("NewerNoncurrentVersions", versions)])
        name = f"keep-{versions}-versions"
    elif kind == "abort":
        days = _positive(form, "abort_days", "Days")
        action = ("AbortIncompleteMultipartUpload", [("DaysAfterInitiation", days)])
        name = f"abort-uploads-after-{days}-days"
    else:
        raise ValueError("choose what the rule does")
    rule_id = form.get("rule_id", "").strip() or (name + (f"-{re.sub(r'[^A-Za-z0-9]+', '-', prefix)}" if prefix else ""))
    base, n = rule_id[:240], 2
    while rule_id in taken:
        rule_id, n = f"{base}-{n}", n + 1
    return ("Rule", [("ID", rule_id), ("Filter", [("Prefix", prefix)]), ("Status", "Enabled"), action])


async def _put_rules(v: Visit, bucket: str, rules: list[Node]) -> None:
    if rules:
        await v.s3.read("PUT", bucket, query={"lifecycle": ""}, body=document("LifecycleConfiguration", rules),
                        headers={"content-type": "application/xml"})
    else:
        await v.s3.read("DELETE", bucket, query={"lifecycle": ""})


async def lifecycle(v: Visit) -> Response:
    bucket = v.params["bucket"]
    form = await v.form()
    action = form.get("action", "")
    try:
        if action == "replace":
            text = form.get("xml", "").strip()
            if text:
                await v.s3.read("PUT", bucket, query={"lifecycle": ""}, body=text.encode(),
                                headers={"content-type": "application/xml"})
            else:
                await v.s3.read("DELETE", bucket, query={"lifecycle": ""})
            v.flash("Lifecycle configuration saved." if text else "Lifecycle configuration deleted.")
            return v.redirect(_back(bucket, "lifecycle"))
        current = await _current_rules(v, bucket)
        rules = [_node(r) for r in current]
        ids = {(r.findtext("{*}ID") or r.findtext("ID") or "") for r in current}
        if action == "add":
            try:
                rule = new_rule(form, ids)
            except ValueError as exc:
                v.flash(f"Rule not added: {exc}.", "error")
                return v.redirect(_back(bucket, "lifecycle"))
            await _put_rules(v, bucket, [*rules, rule])
            v.flash(f"Rule “{_rule_id(rule)}” added.")
        elif action == "delete":
            gone = form.get("rule_id", "")
            await _put_rules(v, bucket, [r for r, e in zip(rules, current, strict=True) if _element_id(e) != gone])
            v.flash(f"Rule “{gone}” deleted.")
        else:
            v.flash("Unknown lifecycle action.", "error")
    except S3Error as exc:
        v.flash(f"Lifecycle not changed: {exc.code}: {exc.message}", "error")
    return v.redirect(_back(bucket, "lifecycle"))


def _rule_id(rule: Node) -> str:
    fields = rule[1]
    assert isinstance(fields, list)
    return str(dict((name, value) for name, value in fields)["ID"])


def _element_id(rule: Element) -> str:
    return next(((c.text or "") for c in rule if local(c.tag) == "ID"), "")


# -- policy ---------------------------------------------------------------------------
PUBLIC_POLICY_ALLOWED = (
    b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
    b"<IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy>"
    b"<RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
)


async def policy(v: Visit) -> Response:
    bucket = v.params["bucket"]
    form = await v.form()
    action = form.get("action", "")
    try:
        if action == "delete":
            await v.s3.read("DELETE", bucket, query={"policy": ""})
            v.flash("Bucket policy deleted.")
            return v.redirect(_back(bucket, "policy"))
        if action == "public-read":
            current, error = await _optional(v, bucket, {"policy": ""}, "NoSuchBucketPolicy")
            if error is not None:
                raise S3Error(error.split(":", 1)[0], error.split(":", 1)[-1].strip())
            text = with_public_read(current.body.decode() if current else None, bucket, form.get("prefix", ""))
            # New buckets block public policies (as in AWS): a public read of a prefix is a policy, so
            # that block goes; the ACL blocks stay (ACLs can still not make anything public).
            await v.s3.read("PUT", bucket, query={"publicAccessBlock": ""}, body=PUBLIC_POLICY_ALLOWED,
                            headers={"content-type": "application/xml"})
        else:
            text = form.get("policy", "")
        try:
            check_policy(text)
        except PolicyError as exc:
            v.flash(f"Policy not saved: {exc}.", "error")
            return v.redirect(console_url(f"/b/{bucket}/settings") + "#policy")
        await v.s3.read("PUT", bucket, query={"policy": ""}, body=text.encode(),
                        headers={"content-type": "application/json"})
        v.flash("Bucket policy saved.")
    except S3Error as exc:
        v.flash(f"Policy not saved: {exc.code}: {exc.message}", "error")
    return v.redirect(_back(bucket, "policy"))


# -- CORS -----------------------------------------------------------------------------
async def cors(v: Visit) -> Response:
    bucket = v.params["bucket"]
    form = await v.form()
    try:
        if form.get("action") == "delete":
            await v.s3.read("DELETE", bucket, query={"cors": ""})
            v.flash("CORS configuration deleted.")
        else:
            await v.s3.read("PUT", bucket, query={"cors": ""}, body=form.get("xml", "").encode(),
                            headers={"content-type": "application/xml"})
            v.flash("CORS configuration saved.")
    except S3Error as exc:
        v.flash(f"CORS not saved: {exc.code}: {exc.message}", "error")
    return v.redirect(_back(bucket, "cors"))
