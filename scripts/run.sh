#!/usr/bin/env bash
# Run the whole system on this machine: the four services (API + worker each) and the clock, on the
# embedded event log and SQLite files under ./var/. Extra arguments go to `qg up`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
. .venv/bin/activate
exec qg up "$@"
