"""Per-worker cost: CPU per record of each service's worker, refolding a recorded log into a new database.

The pipeline benchmark (``bench/pipeline.py``) tells how fast the system drains as a whole, but on two
cores the workers slow each other down, so it cannot say which one to make faster, nor by how much.
This one replays what a run recorded, one worker at a time, alone: it reads every record of the
worker's topics from the run's embedded log, in the order that worker originally applied them (its
inbox), and hands them to ``Worker.handle_batch`` in batches of ``--batch`` records (100; a loaded live
worker takes up to ``QG_WORKER_BATCH``, 1,000) against an empty SQLite database, exactly as the live
worker does (decisions made, events emitted into the outbox; the outbox is not published). Only the
time inside ``handle_batch`` and the collector's pass after it (as in ``Worker.run_once``) is
counted, as process CPU.

    python -m bench.pipeline --backend embedded --seconds 10 --rate 1000   # records a run in /tmp/qg-bench-pipeline-*
    python -m bench.workers --data /tmp/qg-bench-pipeline-XXXX/var --workers roster rules penalties
    python -m bench.workers --data ... --workers roster --profile 25          # and where it goes
    python -m bench.workers --data ... --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The run's own data are not touched: new consumer group, new database in a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import cProfile
import importlib
import io
import json
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.common import collector, outbox  # noqa: E402
from services.common.db import make_engine  # noqa: E402
from services.common.eventlog.base import Record  # noqa: E402
from services.common.eventlog.embedded import EmbeddedLog  # noqa: E402
from services.common.worker import Worker, _peek_id  # noqa: E402

WORKERS = ("roster", "rules", "penalties")


def recorded(log: EmbeddedLog, worker: Worker, applied: dict[str, float]) -> list[Record]:
    """The worker's records in the order it applied them (events it never applied last)."""
    records = worker._read_to_end()
    never = float("inf")
    records.sort(key=lambda r: (applied.get(_peek_id(r.value), never), r.timestamp_ms, r.topic, r.partition,
                                r.offset))
    return records


@contextlib.contextmanager
def fresh_database(postgres: str | None, tmp: Path):
    """An empty database: a SQLite file in ``tmp``, or a new database on the PostgreSQL server of
    ``postgres`` (dropped afterwards)."""
    if not postgres:
        yield f"sqlite:///{tmp / 'fresh.db'}"
        return
    from tests.e2e.conftest import _create_databases, _drop_databases

    urls, names = _create_databases(postgres, f"bench{uuid.uuid4().hex[:6]}")
    try:
        yield urls["rules"]
    finally:
        _drop_databases(postgres, names)


def measure(data: Path, service: str, batch: int, profile: int, postgres: str | None = None,
            profile_out: Path | None = None) -> dict[str, Any]:
    module = importlib.import_module(f"services.{service}.worker")
    original = make_engine(f"sqlite:///{data / (service + '.db')}")
    log = EmbeddedLog(data / "eventlog.db")
    with tempfile.TemporaryDirectory(prefix=f"qg-bench-{service}-") as tmp, \
            fresh_database(postgres, Path(tmp)) as url:
        engine = make_engine(url)
        worker = module.build_worker(None, log=log, engine=engine)  # as the service builds it (prefetch too)
        applied = outbox.applied_order(original, worker.name)
        worker.create_tables()
        records = recorded(log, worker, applied)
        profiler = cProfile.Profile() if profile else None
        cpu = 0.0
        for start in range(0, len(records), batch):
            chunk = records[start:start + batch]
            t = time.process_time()
            if profiler:
                profiler.enable()
            worker.handle_batch(chunk)
            collector.between_batches()  # as the live loop does (``Worker.run_once``)
            if profiler:
                profiler.disable()
            cpu += time.process_time() - t
        kinds: dict[str, int] = {}
        for r in records:
            kinds[r.topic] = kinds.get(r.topic, 0) + 1
        with engine.connect() as conn:
            values = [v for (v,) in conn.exec_driver_sql("select value from qg_outbox order by seq")]
        # what the worker decided, so a change that should only make it faster can show it decided the same
        decided = hashlib.sha256(b"".join(bytes(v) for v in values)).hexdigest()[:16]
        out: dict[str, Any] = {"worker": service, "database": engine.dialect.name, "records": len(records), "by_topic": kinds,
                               "emitted": len(values), "emitted_digest": decided, "cpu_s": round(cpu, 2),
                               "us_per_record": round(cpu / max(len(records), 1) * 1e6),
                               "records_per_cpu_s": round(len(records) / cpu) if cpu else None}
        if profiler:
            buf = io.StringIO()
            stats = pstats.Stats(profiler, stream=buf)
            if profile_out:
                stats.dump_stats(profile_out.with_suffix(f".{service}.prof"))
            stats.sort_stats("cumulative").print_stats(profile)
            out["profile"] = buf.getvalue()
        engine.dispose()
    original.dispose()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="a run's data directory (eventlog.db, <service>.db)")
    p.add_argument("--workers", nargs="+", choices=WORKERS, default=list(WORKERS))
    p.add_argument("--batch", type=int, default=100,
                   help="records per transaction (100: as entries before 2026-12-08; a loaded live worker "
                        "takes up to 1,000)")
    p.add_argument("--profile", type=int, default=0, help="print the top N functions by cumulative time")
    p.add_argument("--profile-out", type=Path, help="also keep the profile (FILE.<worker>.prof) for pstats "
                   "or snakeviz")
    p.add_argument("--postgres", metavar="URL", help="fold into a new database on this PostgreSQL server "
                   "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres) instead of SQLite")
    args = p.parse_args()
    for service in args.workers:
        result = measure(args.data, service, args.batch, args.profile, args.postgres, args.profile_out)
        text = result.pop("profile", None)
        print(json.dumps(result, ensure_ascii=False))
        if text:
            print(text)


if __name__ == "__main__":
    main()
