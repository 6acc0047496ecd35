"""Ingest benchmarks: generic batch throughput (durable on the log) and OneBot webhook latency.

    python -m bench.ingest [--batches 10] [--rate 500] [--seconds 10] [--repeat 1] [--only generic|onebot]

Both run against ONE ingest process (uvicorn, embedded SQLite log, SQLite ingest DB) started as a
subprocess on loopback, exactly as ``qg serve ingest`` runs it.

1. Generic batch: POST ``--batches`` requests of 10,000 distinct messages each, one after another;
   messages/s = accepted / wall time from the first send to the last 202. Then the chat topic is read
   back and every acknowledged event must be on it (durable, counted, no duplicates).
2. OneBot single message: an open-loop schedule of ``--rate`` signed requests per second for
   ``--seconds`` (requests start on schedule whether or not earlier ones finished, so queueing shows
   in the numbers: no coordinated omission); latency = schedule time → response.

Each phase also reports the server process's CPU time (user + system, from ``/proc``) per message or
request, and the load average: the machine this runs on is shared, and CPU per unit of work is less
sensitive to neighbours than wall time. ``--repeat N`` runs each phase N times on fresh servers and
prints every run, the best and the median.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
from collections.abc import Callable
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from services.common.auth import hash_token
from services.ingest.adapters import onebot

TOKEN = "bench-ingest-token"
SECRET = "bench-onebot-secret"
TEXTS = ["今晚 21:00 上线，请相关同事到位", "报销单周五前交财务部，逾期不候 🧾", "@所有人 明早九点例会，请勿迟到",
         "客户反馈已收到，稍后回复", "請大家注意保密，勿外傳截圖", "收到👌"]


def start(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "QG_DATA_DIR": str(data_dir), "QG_EVENTLOG": "embedded",
           "QG_TOKENS": f"{hash_token(TOKEN)}:ingest:bench", "QG_ONEBOT_SECRET": SECRET,
           "QG_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "services.ingest.api:create_app",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                             "--no-access-log"], env=env, cwd=Path(__file__).resolve().parents[1])
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("ingest did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def generic_batch(b: int, size: int = 10_000) -> bytes:
    return orjson.dumps({"events": [
        {"platform": "wecom", "type": "message", "id": f"bench-{b}-{i}", "group_id": f"wrGroup{i % 50:03d}",
         "user_id": f"user{i % 700:04d}", "nickname": f"员工{i % 700}", "time": "2026-03-02T09:15:00+08:00",
         "msg_type": "text", "text": TEXTS[i % len(TEXTS)], "mentions": [], "mention_all": False}
        for i in range(size)]})


def bench_generic(port: int, data_dir: Path, batches: int, pid: int) -> dict[str, float]:
    bodies = [generic_batch(b) for b in range(batches)]
    accepted = 0
    with httpx.Client(timeout=120) as http:
        http.post(f"http://127.0.0.1:{port}/v1/ingest/generic", content=generic_batch(9999, 100),
                  headers={"Authorization": f"Bearer {TOKEN}"})  # warm-up, not counted
        cpu = cpu_seconds(pid)
        started = time.perf_counter()
        for body in bodies:
            answer = http.post(f"http://127.0.0.1:{port}/v1/ingest/generic", content=body,
                               headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 202, answer.text
            accepted += answer.json()["accepted"]
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu
    on_log = count_chat(data_dir)
    assert on_log == accepted + 100, (on_log, accepted)
    return {"messages": accepted, "seconds": elapsed, "per_s": accepted / elapsed, "on_log": on_log,
            "cpu_us_per_message": cpu / accepted * 1e6}


def count_chat(data_dir: Path) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "eventlog.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM records WHERE topic = 'qg.chat.v1'").fetchone()[0]


def onebot_body(n: int) -> bytes:
    return orjson.dumps({"time": int(time.time()), "self_id": 3889001122, "post_type": "message",
                         "message_type": "group", "sub_type": "normal", "message_id": n, "group_id": 738112233 + n % 20,
                         "user_id": 10000 + n % 300, "message": [{"type": "text", "data": {"text": TEXTS[n % len(TEXTS)]}}],
                         "raw_message": TEXTS[n % len(TEXTS)],
                         "sender": {"user_id": 10000 + n % 300, "nickname": "测试", "card": "张三-研发", "role": "member"}})


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator must cost far less
    CPU per request than the server under test (httpx's async client costs ~2 ms, on the same 2 cores)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n{head}\r\n".encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


async def bench_onebot(port: int, rate: int, seconds: float, pid: int, connections: int = 64) -> dict[str, float]:
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    pool: asyncio.Queue[RawConnection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(RawConnection(port))

    async def send(n: int, body: bytes, due: float | None) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            status, answer = await conn.post("/v1/ingest/onebot", body, {"X-Signature": onebot.sign(body, SECRET)})
        finally:
            pool.put_nowait(conn)
        if due is not None:
            latencies.append(time.perf_counter() - due)
            if status != 200 or orjson.loads(answer)["accepted"] != 1:
                errors += 1

    await asyncio.gather(*(send(n, onebot_body(10_000_000 + n), None) for n in range(200)))  # warm-up
    bodies = [onebot_body(n) for n in range(total)]
    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n, bodies[n], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu
    latencies.sort()
    q = statistics.quantiles(latencies, n=1000)
    return {"requests": total, "achieved_rps": total / elapsed, "p50_ms": q[499] * 1000, "p99_ms": q[989] * 1000,
            "max_ms": latencies[-1] * 1000, "errors": errors, "cpu_ms_per_request": cpu / total * 1000}


def run_phase(port: int, phase: Callable[[int, Path, int], dict[str, float]]) -> dict[str, float]:
    """One phase against a fresh ingest process (empty log and database), with the load average."""
    with tempfile.TemporaryDirectory(prefix="qg-bench-ingest-") as tmp:
        data_dir = Path(tmp)
        proc = start(data_dir, port)
        load_before = load_average()
        try:
            result = phase(port, data_dir, proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        return {**result, "load": f"{load_before} → {load_average()}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=["generic", "onebot"])
    parser.add_argument("--port", type=int, default=18101)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {load_average()}")
    generic_runs: list[dict[str, float]] = []
    hook_runs: list[dict[str, float]] = []
    for _ in range(args.repeat):
        if args.only != "onebot":
            g = run_phase(args.port, lambda port, data_dir, pid: bench_generic(port, data_dir, args.batches, pid))
            generic_runs.append(g)
            print(f"generic batch: {g['messages']:,} messages in {g['seconds']:.2f} s = {g['per_s']:,.0f} messages/s "
                  f"accepted; {g['on_log']:,} on the log (incl. 100 warm-up); server CPU "
                  f"{g['cpu_us_per_message']:.0f} µs/message; load {g['load']}", flush=True)
        if args.only != "generic":
            h = run_phase(args.port, lambda port, _dir, pid: asyncio.run(bench_onebot(port, args.rate, args.seconds, pid)))
            hook_runs.append(h)
            print(f"onebot webhook: {h['requests']:,} requests at {h['achieved_rps']:.0f}/s: p50 {h['p50_ms']:.1f} ms, "
                  f"p99 {h['p99_ms']:.1f} ms, max {h['max_ms']:.1f} ms, errors {h['errors']}; server CPU "
                  f"{h['cpu_ms_per_request']:.2f} ms/request; load {h['load']}", flush=True)
    if args.repeat > 1 and generic_runs:
        rates = [g["per_s"] for g in generic_runs]
        print(f"generic best {max(rates):,.0f}, median {statistics.median(rates):,.0f} messages/s; CPU best "
              f"{min(g['cpu_us_per_message'] for g in generic_runs):.0f} µs/message")
    if args.repeat > 1 and hook_runs:
        p99 = [h["p99_ms"] for h in hook_runs]
        p50 = [h["p50_ms"] for h in hook_runs]
        print(f"onebot p99 best {min(p99):.1f}, median {statistics.median(p99):.1f} ms; p50 best {min(p50):.1f}, "
              f"median {statistics.median(p50):.1f} ms; CPU best {min(h['cpu_ms_per_request'] for h in hook_runs):.2f} ms/request")


if __name__ == "__main__":
    main()
