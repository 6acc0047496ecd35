"""End-to-end pipeline benchmark: webhook → violation visible in the rules API, and rebuild speed.

The four services run as separate processes (the e2e harness, ``tests/e2e/conftest.System``: the
same children ``qg up`` starts) on the embedded log + SQLite or on Kafka (a local Tansu) + PostgreSQL.
After a small roster and the default pack are loaded, messages are posted to
``POST /v1/ingest/generic`` in batches at a target rate for ``--seconds``, dealt over ``--groups``
department and project groups (15: four platforms, nobody flooding); every ``--violating-every``-th
message of each group carries an ads term, so it must become a violation. A poller reads the violation total
every 50 ms; a batch's latency is the time from its POST to the total covering it.

Measured: sustained accepted rate, rate of violations made visible, latency percentiles, CPU seconds
per child (from /proc, user + system) and the rules rebuild rate (``qg rebuild rules``) over what was
recorded, extrapolated to 1,000,000 events.

    python -m bench.pipeline --backend embedded --seconds 60 --rate 2000
    python -m bench.pipeline --backend kafka --seconds 60 --rate 1000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.demo import activity as act
from tests.e2e import scenario_support as ss
from tests.e2e.conftest import SECRETS, System

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU of a process and its reaped children, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / TICK


def messages(rooms: list[tuple[Any, list[Any]]], start: datetime, n: int, every: int, offset: int) -> list[dict]:
    """Messages ``offset`` … ``offset + n``, 50 ms of event time apart, dealt to the rooms in turn and,
    within a room, to its people in turn (so nobody floods unless there is one room)."""
    out = []
    for i in range(offset, offset + n):
        room, turn = i % len(rooms), i // len(rooms)
        group, people = rooms[room]
        who = people[turn % len(people)]
        ads = turn % every == room % every  # every room gets one in ``every`` of its turns
        text = f"加微信领取优惠，编号{i}" if ads else f"第{i}号工作记录：已同步客户需求，请查收"
        out.append({"platform": group.platform, "type": "message", "id": f"bench-{i}", "group_id": group.group_id,
                    "user_id": who.accounts[group.platform], "nickname": who.nickname, "msg_type": "text",
                    "text": text, "time": (start + timedelta(milliseconds=50 * i)).isoformat()})
    return out


def rooms_of(company: Any, groups: int) -> list[tuple[Any, list[Any]]]:
    """The first ``groups`` department and project groups, each with its staff members.

    One group (the shape of the entries before 2026-12-07 evening) puts every message 50 ms apart in
    one department group: each of its thirteen staff posts 1.5 messages a second, which the flooding rule
    and the reply SLAs see as one long flood. Fifteen spread the same rate over four platforms at
    one message per person every 7–30 s of event time, what a busy company looks like.
    """
    staff = {e.employee_id: e for e in company.employees if e.level == "staff"}
    rooms = [(g, [staff[m] for m in g.members if m in staff and g.platform in staff[m].accounts])
             for g in company.groups if g.category in ("department", "project")]
    return [(g, people) for g, people in rooms if people][:groups]


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="qg-bench-pipeline-"))
    combo = "embedded-sqlite" if args.backend == "embedded" else "kafka-postgresql"
    with contextlib.ExitStack() as stack:
        system = stack.enter_context(_system(root, combo))
        day = act.day(ss.the_day(), 7)
        secrets = ss.Secrets(SECRETS["QG_ONEBOT_SECRET"], SECRETS["QG_DINGTALK_APP_SECRET"],
                             SECRETS["QG_FEISHU_VERIFICATION_TOKEN"])
        ss.setup(system, day, secrets)
        rooms = rooms_of(day.company, args.groups)
        start = datetime.now(UTC) - timedelta(hours=1)
        http = stack.enter_context(system.client(timeout=60))
        base = _violation_total(http, system)
        cpu0 = {n: cpu_seconds(p.pid) for n, p in system.procs.items()}
        sent: list[tuple[float, int]] = []      # (post time, cumulative violations expected)
        seen: list[tuple[float, int]] = []
        stop = threading.Event()
        poller = threading.Thread(target=_poll, args=(system, base, seen, stop), daemon=True)
        poller.start()
        batch, every = args.batch, args.violating_every
        t0, i, want = time.perf_counter(), 0, 0
        while time.perf_counter() - t0 < args.seconds:
            body = messages(rooms, start, batch, every, i)
            want += sum(1 for m in body if "加微信" in m["text"])
            t = time.perf_counter()
            r = http.post(system.url("ingest") + "/v1/ingest/generic", json={"events": body})
            assert r.status_code == 202, r.text[:300]
            sent.append((t, want))
            i += batch
            pace = t0 + i / args.rate - time.perf_counter()
            if pace > 0:
                time.sleep(pace)
        accept_s = time.perf_counter() - t0
        deadline = time.perf_counter() + args.drain_timeout
        while (not seen or seen[-1][1] < want) and time.perf_counter() < deadline:
            time.sleep(0.1)
        drained_s = time.perf_counter() - t0
        stop.set()
        poller.join()
        cpu1 = {n: cpu_seconds(p.pid) for n, p in system.procs.items()}
        latencies = _latencies(sent, seen)
        visible = seen[-1][1] if seen else 0
        result: dict[str, Any] = {
            "backend": combo, "groups": len(rooms), "messages": i, "violations_expected": want, "violations_visible": visible,
            "accept_rate": i / accept_s, "end_to_end_rate": i / drained_s if visible >= want else None,
            "drain_s": drained_s - accept_s, "latency_ms": _percentiles(latencies),
            "cpu_s": {n: round(cpu1[n] - cpu0.get(n, 0), 1) for n in cpu1}, "wall_s": round(drained_s, 1)}
        result["rebuild"] = _rebuild(system)
        return result


@contextlib.contextmanager
def _system(root: Path, combo: str):
    """The harness outside pytest: Kafka gets its own Tansu; PostgreSQL one database per service."""
    backend, database = combo.split("-")
    with contextlib.ExitStack() as stack:
        kafka = None
        if backend == "kafka":
            from services.common.eventlog.tansu import TansuBroker

            broker = stack.enter_context(TansuBroker(log_file=root / "tansu.log"))
            kafka = broker.bootstrap
        urls: dict[str, str] = {}
        if database == "postgresql":
            from tests.e2e.conftest import _create_databases, _drop_databases

            base = os.environ.get("QG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
            urls, names = _create_databases(base, f"bench{uuid.uuid4().hex[:6]}")
            stack.callback(_drop_databases, base, names)
        system = System(root, backend, database, kafka, urls)
        stack.callback(system.shutdown)
        system.start_all()
        yield system


def _violation_total(http: httpx.Client, system: System) -> int:
    return http.get(system.url("rules") + "/v1/violations", params={"limit": 1, "rule_id": "content.ads"}).json()["total"]


def _poll(system: System, base: int, seen: list, stop: threading.Event) -> None:
    with system.client(timeout=10) as http:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                seen.append((time.perf_counter(), _violation_total(http, system) - base))
            stop.wait(0.05)


def _latencies(sent: list[tuple[float, int]], seen: list[tuple[float, int]]) -> list[float]:
    out, j = [], 0
    for t, want in sent:
        while j < len(seen) and (seen[j][1] < want or seen[j][0] < t):
            j += 1
        if j < len(seen):
            out.append(seen[j][0] - t)
    return out


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return {"p50": round(q[49] * 1000), "p90": round(q[89] * 1000), "p99": round(q[98] * 1000),
            "max": round(max(values) * 1000), "batches": len(values)}


def _rebuild(system: System) -> dict[str, Any]:
    """``qg rebuild rules`` with its worker stopped: records folded per second."""
    system.stop("rules-worker")
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "services.cli", "rebuild", "rules"], cwd=REPO, env=system.env,
                          capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.perf_counter() - t
    digits = [int(w) for w in done.stdout.replace(":", " ").split() if w.isdigit()]
    records = digits[-1] if digits else 0
    return {"ok": done.returncode == 0, "records": records, "seconds": round(seconds, 1),
            "records_per_s": round(records / seconds) if seconds else None,
            "projected_1M_s": round(1_000_000 / (records / seconds)) if records else None,
            "error": done.stderr[-300:] if done.returncode else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("embedded", "kafka"), default="embedded")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to send (target: 300)")
    p.add_argument("--rate", type=float, default=2000.0, help="messages per second offered (target: 5000)")
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--groups", type=int, default=15, help="department and project groups the messages are "
                   "dealt to (1: every message in one group, the shape of the earlier entries)")
    p.add_argument("--violating-every", type=int, default=10)
    p.add_argument("--drain-timeout", type=float, default=600.0)
    args = p.parse_args()
    import json

    print(json.dumps(run(args), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
