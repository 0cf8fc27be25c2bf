#!/usr/bin/env bash
# Makes .venv (Python 3.11, pinned from requirements.lock) and .tools/bin (helm, kubectl), and
# installs the Debian packages the tests and the demo use. Safe to run again: each step is skipped
# when its result is already there and current.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
UV_VERSION=0.13.9
venv=.venv
stamp=$venv/.lock-sha

lock_sha=$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x "$venv/bin/python" ]; then
  say "creating virtualenv $venv ($($PYTHON --version))"
  "$PYTHON" -m venv "$venv"
fi
if [ ! -x "$venv/bin/uv" ]; then
  say "installing uv $UV_VERSION into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sha" ]; then
  say "installing pinned packages from requirements.lock (Airflow included; ~20 s with uv)"
  VIRTUAL_ENV=$root/$venv "$venv/bin/uv" pip sync --quiet requirements.lock
  VIRTUAL_ENV=$root/$venv "$venv/bin/uv" pip install --quiet --no-deps -e .
  echo "$lock_sha" > "$stamp"
else
  say "virtualenv is current (requirements.lock unchanged)"
fi

bash scripts/fetch-helm.sh

# Debian packages: prometheus/promtool (rule tests, metrics scrape), shellcheck (script lint),
# PostgreSQL server (Airflow's metadata database in local mode).
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v shellcheck >/dev/null || need+=(shellcheck)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian starts the packaged services; this project runs its own private instances.
    for svc in prometheus postgresql; do
      (systemctl stop "$svc" 2>/dev/null || service "$svc" stop 2>/dev/null || true) >/dev/null 2>&1
    done
  else
    echo "missing Debian packages: ${need[*]} — run: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
say "bootstrap done"
