#!/usr/bin/env bash
# Make this checkout runnable on a fresh machine: a venv with Qunguard and its test tools, and (for
# the tests) a PostgreSQL server on 127.0.0.1:5432. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.qunguard-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".[test]"
  touch "$stamp"
fi

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if [ -n "${QG_TEST_POSTGRES_URL:-}" ]; then return 0; fi
  echo "PostgreSQL is not running on 127.0.0.1:5432; starting it / PostgreSQL 未运行，正在启动" >&2
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "cannot install PostgreSQL here: set QG_TEST_POSTGRES_URL" >&2; return 1
    fi
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
  # The tests connect as postgres over TCP without a password, as on our developer machines.
  if ! psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1; then
    hba=$(su postgres -c "psql -tAc 'show hba_file'")
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    su postgres -c "psql -c 'select pg_reload_conf()'" >/dev/null
  fi
}

if [ "${1:-}" = "--with-postgres" ]; then
  ensure_postgres
fi
