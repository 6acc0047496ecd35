#!/usr/bin/env bash
# The whole test suite: unit, integration (real Kafka-protocol broker and PostgreSQL) and e2e.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m unit` or `scripts/test.sh tests/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --with-postgres
. .venv/bin/activate
exec python -m pytest "$@"
