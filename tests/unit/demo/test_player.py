"""``qg demo``'s player against a fake system (httpx MockTransport): order of steps, pacing, live tail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from services.demo import activity
from services.demo import player as p
from services.demo.platforms import Secrets

pytestmark = pytest.mark.unit
URLS = {s: f"http://{s}.test" for s in p.SERVICES}


@pytest.fixture(scope="module")
def day() -> activity.Activity:
    return activity.day(date(2025, 3, 4))


class FakeSystem:
    """Answers like the four services would and records every call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.generic: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, f"{request.url.host}{request.url.path}"))
        path = request.url.path
        if path == "/scim/v2/Users" and request.method == "GET":
            return httpx.Response(200, json={"Resources": [{"id": "scim-1"}]})
        if path == "/v1/ingest/generic":
            self.generic += orjson.loads(request.content)["events"]
            return httpx.Response(202, json={"accepted": 1, "duplicates": 0})
        return httpx.Response(201 if request.method in ("POST", "PUT") else 200, json={})


def _player(fake: FakeSystem, waits: list[float]) -> p.Player:
    return p.Player(httpx.Client(transport=httpx.MockTransport(fake)), URLS, lambda s: None, Secrets(), waits.append)


def test_the_demo_publishes_loads_registers_then_changes_hr_then_plays_chat(day, tmp_path: Path):
    fake, waits = FakeSystem(), []
    pl = _player(fake, waits)
    (tmp_path / "pack.yaml").write_text("id: x\n", encoding="utf-8")
    phases = p.plan(day)
    pl.health()
    pl.publish_packs([tmp_path / "pack.yaml"])
    pl.load_roster(day)
    pl.register_groups(day)
    pl.send_generic(phases.setup)
    pl.hr_changes(day)
    pl.play(phases.chat, speed=600)
    hosts = [host.split(".")[0] + path for _, host_path in fake.calls for host, path in [host_path.split("/", 1)]]
    first = {kind: next(i for i, c in enumerate(hosts) if c.startswith(kind))
             for kind in ("rulesv1/policies", "rosterscim", "rosterv1/groups", "ingestv1/ingest")}
    assert first["rulesv1/policies"] < first["rosterscim"] < first["rosterv1/groups"] < first["ingestv1/ingest"]
    assert pl.stats["users"] == len(day.company.employees) and pl.stats["groups"] == len(day.company.groups)
    assert [e["id"] for e in fake.generic] == [e.id for e in phases.setup + phases.chat]
    assert ("PUT", "roster.test/scim/v2/Users/scim-1") in fake.calls


def test_setup_phase_holds_snapshots_and_history_before_the_day(day):
    phases = p.plan(day)
    assert {e.body["type"] for e in phases.setup} == {"members_snapshot", "group_created", "member_joined"}
    assert all(e.time >= day.start for e in phases.chat)
    assert len(phases.setup) + len(phases.chat) == len(day.events)


def test_pacing_waits_simulated_time_divided_by_speed_and_fast_never_waits(day):
    chat = p.plan(day).chat
    paced = list(p.pace(chat, speed=600))
    span = (chat[-1].time - chat[0].time).total_seconds()
    assert sum(w for w, _ in paced) == pytest.approx(span / 600, rel=0.2)
    assert all(w == 0 for w, _ in p.pace(chat, speed=0))
    assert sum(len(b) for _, b in paced) == len(chat)


def test_live_tail_happens_now_on_every_native_platform_outside_project_groups(day):
    now = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
    tail = p.live_tail(day, now)
    assert {ev.native for ev, _ in tail} == {"onebot", "dingtalk", "feishu"}
    assert all(abs(ev.time - now) < timedelta(minutes=1) for ev, _ in tail)
    assert any(rules for _, rules in tail)
    project = {g.group_id for g in day.company.groups if g.category == "project"}
    assert not {ev.body["group_id"] for ev, _ in tail} & project


def test_demo_day_is_the_last_working_day_before_today():
    assert p.demo_day(date(2025, 3, 3)) == date(2025, 2, 28)          # Monday → Friday
    assert p.demo_day(date(2025, 10, 9)) == date(2025, 9, 30)         # after the National Day week


def test_unreachable_service_is_reported_with_the_command_to_run():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    pl = p.Player(httpx.Client(transport=httpx.MockTransport(down)), URLS, lambda s: None, Secrets())
    with pytest.raises(p.DemoError, match="qg up"):
        pl.health()
