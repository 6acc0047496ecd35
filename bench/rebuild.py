"""Rebuild at scale: ``Worker.rebuild`` of a service over a log of ``--events`` recorded events.

The pipeline benchmark measures ``qg rebuild rules`` over what one run recorded (about 130,000
events at 2,000 msg/s for a minute); loading a million messages through the webhooks takes a
quarter of an hour on this machine. This benchmark starts from such a recorded run (its
``var`` directory: the embedded log and each service's SQLite file), copies it, and grows the copy
to ``--events`` records on the service's topics by appending the recorded chat messages again —
new ids, event times continuing after the last, the same groups, senders and texts (so the same
share of ads) — then times the rebuild exactly as ``qg rebuild`` runs it: drain the outbox, read
every record to the end, sort by applied order (log order for what was never applied), fold into
the dropped and recreated projections in transactions of ``Worker.rebuild_batch`` records.

    python -m bench.pipeline --backend embedded --seconds 60 --rate 2000     # records a run
    python -m bench.rebuild --data /tmp/qg-bench-pipeline-*/var --events 1000000
    python -m bench.rebuild --data … --service rules --rebuild-batch 100     # the live batch size
    python -m bench.rebuild --data … --events 200000 --profile-out /tmp/rebuild.prof   # where it goes

Reported: records folded, wall and CPU seconds (reading and sorting included), records per second,
and the digest of the rebuilt state (two runs over the same log must agree).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import json
import logging
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.common.db import make_engine, session_scope, state_digest  # noqa: E402
from services.common.eventlog.embedded import EmbeddedLog  # noqa: E402
from services.common.worker import Worker  # noqa: E402

CHAT = "qg.chat.v1"


def grow(log: EmbeddedLog, worker: Worker, events: int) -> int:
    """Append copies of the log's chat messages until the worker's topics hold ``events`` records; returns how
    many were appended. Copies keep everything but the id (``<id>~<n>``) and the time (shifted past
    the last recorded message, so every copy is a new message later in the day)."""
    records = worker._read_to_end()  # what the rebuild reads: the worker's topics to their end
    have = len(records)
    chat = [(r.key, doc) for r in records if r.topic == CHAT
            for doc in [orjson.loads(r.value)] if doc.get("type", "").endswith("message_posted.v1")]
    del records
    if not chat or have >= events:
        return 0
    times = [datetime.fromisoformat(doc["time"]) for _, doc in chat]
    span = max(times) - min(times) + timedelta(seconds=1)
    producer = log.producer()
    appended, copy = 0, 0
    while have + appended < events:
        copy += 1
        shift = span * copy
        for (key, doc), at in zip(chat, times, strict=True):
            if have + appended >= events:
                break
            clone = dict(doc, id=f"{doc['id']}~{copy}", time=(at + shift).isoformat())
            data = clone["data"] = dict(clone["data"])
            for name in ("message_id", "platform_event_id"):
                if data.get(name):
                    data[name] = f"{data[name]}~{copy}"
            data["occurred_at"] = (datetime.fromisoformat(data["occurred_at"]) + shift).isoformat()
            producer.publish(CHAT, key, orjson.dumps(clone))
            appended += 1
        producer.flush()
    return appended


def run(data: Path, service: str, events: int, rebuild_batch: int | None,
        profile_out: Path | None = None) -> dict[str, Any]:
    module = importlib.import_module(f"services.{service}.worker")
    with tempfile.TemporaryDirectory(prefix=f"qg-bench-rebuild-{service}-") as tmp:
        var = Path(tmp) / "var"
        shutil.copytree(data, var)
        log = EmbeddedLog(var / "eventlog.db")
        engine = make_engine(f"sqlite:///{var / (service + '.db')}")
        worker = module.build_worker(None, log=log, engine=engine)
        if rebuild_batch:
            worker.rebuild_batch = rebuild_batch
        t = time.perf_counter()
        appended = grow(log, worker, events)
        grow_s = time.perf_counter() - t
        profiler = cProfile.Profile() if profile_out else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        records = worker.rebuild()
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profiler:
            profiler.dump_stats(profile_out)
        # rules_state_version counts transactions, so it follows --rebuild-batch, not the log (the
        # e2e digests leave it out too)
        state = [t for t in worker.projection_tables if t.name != "rules_state_version"]
        with session_scope(engine) as session:
            digest = state_digest(session, state)
            tables = {t.name: state_digest(session, [t])[:12] for t in state}  # two runs that disagree say where
        engine.dispose()
    return {"service": service, "records": records, "appended": appended, "grow_s": round(grow_s, 1),
            "rebuild_batch": worker.rebuild_batch, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "records_per_s": round(records / wall), "projected_1M_s": round(1_000_000 * wall / records, 1),
            "state_digest": digest, "table_digests": tables}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="a recorded run's data directory (bench.pipeline)")
    p.add_argument("--service", choices=("roster", "rules", "penalties"), default="rules")
    p.add_argument("--events", type=int, default=1_000_000, help="records on the service's topics to rebuild from")
    p.add_argument("--rebuild-batch", type=int, help="records per transaction (default: the worker's)")
    p.add_argument("--profile-out", type=Path, help="profile the rebuild (cProfile, slower) into FILE for pstats")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the rebuild's phases, on stderr
    print(json.dumps(run(args.data, args.service, args.events, args.rebuild_batch, args.profile_out),
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
