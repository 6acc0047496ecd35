"""The executor with scripted fake clients: retries, give-ups, refusals, deterministic outcome ids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from contracts.enforcement import EnforcementFailed, EnforcementRequested, EnforcementSucceeded
from contracts.ids import derive_id
from services.ingest.enforcement.calls import Invalid, PlatformCall, Reply, RetryPolicy, Unsupported, not_configured
from services.ingest.enforcement.executor import enforce, outcome_id
from services.ingest.enforcement.tokens import TokenCache

pytestmark = pytest.mark.unit

T0 = datetime(2026, 9, 21, 10, 30, tzinfo=timezone(timedelta(hours=8)))
DONE = datetime(2026, 9, 21, 2, 30, 5, tzinfo=timezone.utc)
NOTICE = "【群规提醒】张三 在「销售一部工作群」发布广告内容，违反《群管理制度》第四章第2条，予以警告。"
POLICY = RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=8.0)


class ScriptedClient:
    """Answers each attempt from a script (the last reply repeats) and counts attempts."""

    platform = "qq"

    def __init__(self, *replies: Reply, plan: object = PlatformCall("POST", "/send_group_msg", {})) -> None:
        self.replies, self.planned, self.sent = list(replies), plan, 0

    def plan(self, command):
        return self.planned

    def send(self, call):
        self.sent += 1
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def command(**fields) -> EnforcementRequested:
    base = dict(command_id="cmd-20260921-0001", platform="qq", group_id="734561290", action="notice",
                requested_at=T0, text=NOTICE)
    return EnforcementRequested(**{**base, **fields})


def run(client, cmd=None, policy=POLICY):
    sleeps: list[float] = []
    outcome = enforce(cmd or command(), {"qq": client}, policy, now=lambda: DONE, sleep=sleeps.append)
    return outcome, sleeps


def test_success_on_first_attempt_reports_one_attempt_and_the_platform_answer():
    outcome, sleeps = run(ScriptedClient(Reply.ok({"status": "ok", "data": {"message_id": 42}})))
    assert outcome == EnforcementSucceeded(command_id="cmd-20260921-0001", platform="qq", group_id="734561290",
                                           action="notice", attempts=1, completed_at=DONE,
                                           platform_response={"status": "ok", "data": {"message_id": 42}})
    assert sleeps == []


def test_transient_failures_back_off_exponentially_then_succeed():
    client = ScriptedClient(Reply("retry", "HTTP 502"), Reply("retry", "HTTP 503"), Reply("retry", "timeout"),
                            Reply.ok())
    outcome, sleeps = run(client)
    assert isinstance(outcome, EnforcementSucceeded) and outcome.attempts == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_attempts_are_bounded_and_the_last_reason_is_kept():
    outcome, sleeps = run(ScriptedClient(Reply("retry", "HTTP 503: 服务维护中")))
    assert isinstance(outcome, EnforcementFailed) and outcome.attempts == 4 and not outcome.unsupported
    assert "HTTP 503: 服务维护中" in outcome.reason and "4" in outcome.reason
    assert len(sleeps) == 3


def test_a_platform_retry_after_lengthens_the_wait_but_never_past_the_cap():
    client = ScriptedClient(Reply("retry", "429", retry_after_s=3.0), Reply("retry", "429", retry_after_s=600),
                            Reply.ok())
    outcome, sleeps = run(client)
    assert sleeps == [3.0, 8.0]


def test_a_permanent_failure_is_not_retried():
    client = ScriptedClient(Reply("fail", "OneBot failed: retcode 100 权限不足"))
    outcome, sleeps = run(client)
    assert isinstance(outcome, EnforcementFailed) and outcome.attempts == 1 and client.sent == 1 and sleeps == []


def test_an_unsupported_action_fails_as_unsupported_without_any_call():
    refusal = Unsupported("飞书没有禁言单个群成员的接口", "Feishu cannot mute a single member")
    client = ScriptedClient(Reply.ok(), plan=refusal)
    outcome, _ = run(client, command(action="mute", user_id="ou_1", duration_s=600))
    assert outcome.unsupported and outcome.attempts == 0 and client.sent == 0
    assert outcome.reason == "飞书没有禁言单个群成员的接口 / Feishu cannot mute a single member"


@pytest.mark.parametrize("refusal", [Invalid("缺少 text", "notice needs text"),
                                     not_configured("OneBot", "QG_ONEBOT_API_URL")])
def test_an_incomplete_command_or_missing_credentials_fail_but_are_not_unsupported(refusal):
    outcome, _ = run(ScriptedClient(Reply.ok(), plan=refusal))
    assert isinstance(outcome, EnforcementFailed) and not outcome.unsupported and outcome.attempts == 0


def test_a_platform_without_a_client_is_unsupported_not_a_crash():
    outcome, _ = run(ScriptedClient(Reply.ok()), command(platform="wechat", group_id="34567@chatroom"))
    assert outcome.unsupported and "wechat" in outcome.reason


def test_the_outcome_id_is_derived_from_the_command_id_only():
    assert outcome_id("cmd-1") == derive_id("enforcement-outcome", "cmd-1") == outcome_id("cmd-1")
    assert outcome_id("cmd-1") != outcome_id("cmd-2")


def test_backoff_doubles_from_the_base_up_to_the_cap():
    policy = RetryPolicy(max_attempts=8, base_delay_s=0.5, max_delay_s=4.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_token_is_reused_until_shortly_before_it_expires_and_refetched_when_rejected():
    now = [0.0]
    fetched: list[int] = []

    def fetch():
        fetched.append(1)
        return f"token-{len(fetched)}", 7200.0

    cache = TokenCache(fetch, margin_s=300, clock=lambda: now[0])
    assert cache.get() == "token-1"
    now[0] = 6800.0
    assert cache.get() == "token-1"
    now[0] = 6901.0
    assert cache.get() == "token-2"
    cache.invalidate()
    assert cache.get() == "token-3"


def test_a_failed_token_fetch_is_passed_on_and_not_cached():
    replies = [Reply("retry", "gettoken: errcode -1 system busy"), ("tok", 7200.0)]
    cache = TokenCache(lambda: replies.pop(0))
    assert isinstance(cache.get(), Reply)
    assert cache.get() == "tok"
