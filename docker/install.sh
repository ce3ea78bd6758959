#!/usr/bin/env bash
# Install fragstore into a virtual environment, from this source tree.
#
#   docker/install.sh [VENV] [EXTRA ...]      e.g. docker/install.sh /opt/fragstore/venv gan
#
# The container image runs this in its builder stage; CI runs it outside any
# container (tests/docker/test_container_recipe.py), so the image's install
# step is exercised without a Docker engine.
#
# VENV defaults to $FRAGSTORE_VENV, else /opt/fragstore/venv. It is created
# when missing and reused when present, so a second call can add extras.
# The project is installed as a regular (non-editable) package, built from a
# clean copy of the sources so that nothing is written into the source tree.
#
# Environment:
#   PYTHON                      interpreter that creates the venv (default python3)
#   FRAGSTORE_TORCH_INDEX_URL   with the `gan` extra: install torch first, at the
#                               version pinned in pyproject.toml, from this index
#                               only. The Dockerfile sets the PyTorch CPU index:
#                               on linux/x86_64 PyPI's torch pulls CUDA wheels.
#   FRAGSTORE_INSTALL_REUSE=1   do not download dependencies: the new venv sees
#                               the site-packages of $PYTHON's environment (which
#                               must already hold them) and only the project is
#                               built and installed (--no-deps). A fast path for
#                               test runs; the image never uses it.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${1:-${FRAGSTORE_VENV:-/opt/fragstore/venv}}
if [ $# -gt 0 ]; then shift; fi
PY=${PYTHON:-python3}
# What the package build needs from the tree (the Dockerfile copies the same).
SOURCES=(pyproject.toml README.md dedup server)

extras=$(IFS=,; echo "$*")
requirement=.
if [ -n "$extras" ]; then
  requirement=".[${extras}]"
fi

VPY="$VENV/bin/python"
pip_install=("$VPY" -m pip install --no-cache-dir --disable-pip-version-check --no-input)
if [ "${FRAGSTORE_INSTALL_REUSE:-0}" = 1 ]; then
  # pip, setuptools and the dependencies all come from $PYTHON's environment,
  # named in a .pth file of the new venv.
  if [ ! -x "$VPY" ]; then
    "$PY" -m venv --without-pip "$VENV"
  fi
  site=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$PY" -c 'import sysconfig
paths = sysconfig.get_paths()
print("\n".join(dict.fromkeys([paths["purelib"], paths["platlib"]])))' >"$site/_fragstore_reuse.pth"
  pip_install+=(--no-deps --no-build-isolation)
elif [ ! -x "$VPY" ]; then
  "$PY" -m venv "$VENV"
fi

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
for path in "${SOURCES[@]}"; do
  cp -R "$SRC/$path" "$build/"
done
find "$build" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +

case ",$extras," in
  *,gan,*)
    if [ -n "${FRAGSTORE_TORCH_INDEX_URL:-}" ]; then
      torch=$("$VPY" -c 'import re, sys, tomllib
extra = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["gan"]
print(next(r for r in extra if re.match(r"torch\s*==", r)).replace(" ", ""))' "$build/pyproject.toml")
      "${pip_install[@]}" --index-url "$FRAGSTORE_TORCH_INDEX_URL" "$torch"
    fi
    ;;
esac

(cd "$build" && "${pip_install[@]}" "$requirement")
# The installed package (not a source tree in the working directory) imports,
# with every dependency it needs at run time; the gan extra's torch is a CPU build.
(cd / && "$VPY" -c 'import dedup.store, server.app, server.admin.cli' && "$VENV/bin/fragstore" --help >/dev/null)
case ",$extras," in
  *,gan,*) (cd / && "$VPY" -c 'import sys, torch; sys.exit(torch.version.cuda and "torch is a CUDA build")') ;;
esac
echo "fragstore installed into $VENV${extras:+ (extras: $extras)}"
