#!/usr/bin/env bash
# Regenerate requirements/runtime.lock: the worker's runtime dependencies (no dev tools), exact versions from
# requirements/lock.txt, each with the sha256 of its CPython 3.11 manylinux x86_64 wheel (for the Docker image).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3.11 -m venv "$work/venv"
"$work/venv/bin/pip" install -q -U pip packaging
"$work/venv/bin/pip" install -q -c requirements/lock.txt .
"$work/venv/bin/pip" freeze --exclude socialpulse > "$work/freeze.txt"
"$work/venv/bin/pip" download -q --no-deps --only-binary=:all: -r "$work/freeze.txt" -d "$work/wheels"
"$work/venv/bin/python" - "$work" <<'PY'
import hashlib, pathlib, sys
from packaging.utils import canonicalize_name, parse_wheel_filename
work = pathlib.Path(sys.argv[1])
hashes = {}
for wheel in (work / "wheels").glob("*.whl"):
    name, version, *_ = parse_wheel_filename(wheel.name)
    hashes[(canonicalize_name(name), str(version))] = hashlib.sha256(wheel.read_bytes()).hexdigest()
out = ["# Runtime dependencies of the worker image, exact versions with sha256 hashes (CPython 3.11, manylinux x86_64).",
       "# Generated from requirements/lock.txt by tools/lock_runtime.sh; install with:",
       "#   pip install --no-deps --require-hashes -r requirements/runtime.lock",
       "# Dev and test tools (pytest, chdb, ruff, mypy, ...) are only in requirements/lock.txt."]
for line in (work / "freeze.txt").read_text().split():
    name, version = line.split("==")
    out.append(f"{name}=={version} --hash=sha256:{hashes[(canonicalize_name(name), version)]}")
pathlib.Path("requirements/runtime.lock").write_text("\n".join(out) + "\n")
print(f"requirements/runtime.lock: {len(out) - 4} packages")
PY
