"""Reply SLAs: catalog section 4 (``reply.*``), counted in working minutes on the working calendar.

Each SLA is a timer per open question (key ``{group ref}|{message id}``, scope the group ref; notice
acknowledgements use one timer per person, scope ``{group ref}|{user}``). A message by someone the
timer waits for, posted after the question and before the deadline, cancels it by event time. When
the deadline passes first, every person still owing an answer gets a finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from contracts.chat import MessagePosted
from contracts.violations import Evidence
from services.rules.detectors._common import (
    PositiveInt,
    accounts_on,
    department_head,
    roles_of,
    who,
)
from services.rules.detectors.base import (
    ActiveRule,
    Finding,
    Input,
    Output,
    StateView,
    TimerCancel,
    TimerFired,
    TimerSet,
    detector,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from services.rules.policy.runtime import PackRuntime

QUESTION_WORDS = ["?", "？", "吗", "怎么", "什么时候", "请问", "多少", "为什么", "能否", "是否", "进度", "哪位"]
TASK_WORDS = ["请", "安排", "尽快", "落实", "负责", "跟进", "处理", "汇报", "报给我", "下班前", "马上", "务必", "抓紧"]
PUBLIC_WORDS = ["行政", "后勤", "报销", "食堂", "宿舍", "门禁", "打印机", "网络", "快递", "停车", "办公用品", "考勤"]
ACK_WORDS = ["收到", "好的", "执行", "马上执行", "明白", "已阅", "OK", "ok", "好"]
NOTICE_MARKS = ["【通知】", "通知：", "通知:", "【公告】", "公告：", "请回复收到", "请各位"]
DEFLECT_WORDS = ["不归我管", "不是我负责", "不关我事", "找别人", "别问我", "跟我没关系", "不是我们部门的事"]
ISSUE_WORDS = ["问题", "故障", "投诉", "怎么办", "谁负责", "出错", "坏了", "异常"]


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: whose timers a message may cancel: the sender's own (``{ref}|{user}``) or the group's (``{ref}``)
    waits_on: ClassVar[Literal["sender", "group"]] = "sender"
    #: whether a message that mentions someone (or @all) may open this SLA without an opening word
    opens_on_mention: ClassVar[bool] = True

    def opening_words(self) -> list[str]:
        """Words without which a message (that mentions nobody) cannot open this SLA or be a finding."""
        return []

    def leader_words(self) -> list[str]:
        """Like :meth:`opening_words`, for messages by a leader (manager or executive) only."""
        return []


# -- precondition ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Cues:
    """What the pack's reply rules listen for, compiled once per pack version."""

    words: re.Pattern[str] | None         # every opening word of every reply rule, one alternation
    leader_words: re.Pattern[str] | None  # the same plus the words that only matter from a leader
    sender_ns: frozenset[str]             # timer namespaces of rules whose timers wait for one person
    group_ns: frozenset[str]              # ... and of rules whose timers any message in the group may cancel
    mentions: bool                        # a mention (or @all) alone may open one of the rules

    @classmethod
    def of(cls, rules: list[ActiveRule]) -> _Cues:
        anyone = {w for r in rules for w in r.params.opening_words()}
        leader = anyone | {w for r in rules for w in r.params.leader_words()}
        return cls(_alternation(anyone), _alternation(leader),
                   frozenset(r.timer_ns for r in rules if r.params.waits_on == "sender"),
                   frozenset(r.timer_ns for r in rules if r.params.waits_on == "group"),
                   any(r.params.opens_on_mention for r in rules))


def _alternation(words: set[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))) if words else None


def may_concern_replies(inp: Input, state: StateView) -> bool:
    """Precondition of the reply-SLA detectors whose timers wait for one person, evaluated once per
    message for all of them: the message mentions someone or @all, holds an opening word of one of
    those rules (question, task — from a leader —, notice), or a timer of one of them waits for its
    sender in this group."""
    return _concerns(inp, state, inp.runtime.derived(_reply_cues))


def may_concern_issues(inp: Input, state: StateView) -> bool:
    """Precondition of buck passing, whose timers any answer in the group cancels: an issue or
    deflection word, or such a timer open in this group. Apart from ``may_concern_replies`` because
    an open issue makes every message of its group a candidate answer: the other reply rules need
    not see all of them."""
    return _concerns(inp, state, inp.runtime.derived(_issue_cues))


def _concerns(inp: Input, state: StateView, cues: _Cues) -> bool:
    msg = inp.message
    if msg is None:
        return False
    if cues.mentions and (msg.mentions or msg.mention_all):
        return True
    words = cues.leader_words if inp.actor is not None and inp.actor.is_leader else cues.words
    if words is not None and words.search(inp.text):
        return True
    if cues.sender_ns and not cues.sender_ns.isdisjoint(state.namespaces_in(inp.member_ref)):
        return True
    return bool(cues.group_ns) and not cues.group_ns.isdisjoint(state.namespaces_in(inp.ref))


def _reply_cues(rt: PackRuntime) -> _Cues:
    return _Cues.of(rt.rules_with(may_concern_replies))


def _issue_cues(rt: PackRuntime) -> _Cues:
    return _Cues.of(rt.rules_with(may_concern_issues))


def _has(text: str, words: list[str]) -> str | None:
    """The first of ``words`` (in list order) that ``text`` contains (a plain loop: asked several
    times per message, a generator costs more than the search)."""
    for w in words:
        if w in text:
            return w
    return None


def _open(rule: ActiveRule, inp: Input, responsible: list[str], due: datetime, **data) -> list[Output]:
    """One timer per person who owes an answer (key ``{ref}|{message}|{user}``, scope ``{ref}|{user}``),
    so a message only looks at the timers waiting for its sender, and each person answers for themself."""
    ref = f"{inp.platform}:{inp.group_id}"
    msg = inp.message
    return [TimerSet(key=f"{ref}|{msg.message_id}|{user}", due=due, scope=f"{ref}|{user}", data={
        "platform": inp.platform, "group_id": inp.group_id, "responsible": [user], "asker": inp.user_id,
        "asked_at": inp.time.isoformat(), "message_id": msg.message_id, "text": (msg.text or "")[:200], **data})
        for user in sorted(set(responsible))]


def _answered(rule: ActiveRule, inp: Input, state: StateView, scope: str | None = None) -> list[Output]:
    """Cancel the timers waiting for this message's sender in this group (posted after the question)."""
    msg = inp.message
    out: list[Output] = []
    for t in state.timers_in(rule.timer_ns, scope or inp.member_ref):
        if inp.time > datetime.fromisoformat(t.data["asked_at"]) and msg.message_id != t.data["message_id"]:
            out.append(TimerCancel(t.key, inp.time))
    return out


def _overdue(rule: ActiveRule, ev: TimerFired, state: StateView, summary: str,
             liable_owner: bool = False) -> list[Output]:
    d = ev.data
    g = state.group(d["platform"], d["group_id"])
    out: list[Output] = []
    for user in d.get("responsible", ()):
        person = state.person_by_account(d["platform"], user)
        if person is None and not d.get("owner_employee_id"):
            continue
        employee = d.get("owner_employee_id") if liable_owner else person.employee_id if person else None
        e = Evidence(summary=f"{who(person, user)} {summary}", text=d.get("text"),
                     details={"question_message_id": d["message_id"], "asked_at": d["asked_at"],
                              "deadline": ev.due.isoformat(), "group": g.name if g else d["group_id"]})
        out.append(Finding(rule_id=rule.id, category=rule.spec.category, severity=rule.spec.severity, evidence=e,
                           platform=d["platform"], occurred_at=ev.due, causing_event_ids=tuple(ev.causing_event_ids),
                           group_id=d["group_id"], user_id=user, employee_id=employee, dedupe=(user,)))
    return out


class LeaderTaskParams(_P):
    within_minutes: PositiveInt = 30
    question_words: list[str] = QUESTION_WORDS
    task_words: list[str] = TASK_WORDS

    def leader_words(self) -> list[str]:
        return self.question_words + self.task_words  # only leaders' tasks and questions open this SLA


@detector("leader_task_reply", on=(MessagePosted, TimerFired), params=LeaderTaskParams,
          when=may_concern_replies)
def leader_task_reply(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """领导在群里布置任务或提问：被@的人或负责部门负责人须在 N 个工作分钟内回应 / a leader's task or
    question is answered by the person mentioned (or the department head) within N working minutes."""
    if isinstance(inp.event, TimerFired):
        return _overdue(rule, inp.event, state, f"未在 {rule.params.within_minutes} 个工作分钟内回应领导布置的任务 / "
                                                "did not answer a leader's task in time")
    out = _answered(rule, inp, state)
    msg, a, p = inp.message, inp.actor, rule.params
    if a is None or not a.is_leader:
        return out
    text = msg.text or ""
    responsible = [u for u in msg.mentions if u != msg.user_id]
    if not responsible and not (_has(text, p.question_words) or _has(text, p.task_words)):
        return out
    if not responsible and inp.group and inp.group.department_id:
        head = department_head(state, inp.group.department_id)
        responsible = [u for u in accounts_on(head, inp.platform or "") if u != msg.user_id]
    if responsible:
        due = inp.runtime.working_minutes_deadline(inp.time, p.within_minutes)  # type: ignore[attr-defined]
        out += _open(rule, inp, responsible, due)
    return out


class QuestionParams(_P):
    within_minutes: PositiveInt = 20
    question_words: list[str] = QUESTION_WORDS
    public_words: list[str] = PUBLIC_WORDS

    def opening_words(self) -> list[str]:
        return self.question_words


@detector("employee_question_reply", on=(MessagePosted, TimerFired), params=QuestionParams,
          when=may_concern_replies)
def employee_question_reply(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """员工在群里直接提出的工作问题，由其直属部门负责人在 N 个工作分钟内答复 / an employee's work
    question is answered by their department head within N working minutes."""
    if isinstance(inp.event, TimerFired):
        return _overdue(rule, inp.event, state, f"未在 {rule.params.within_minutes} 个工作分钟内答复本部门员工的问题 / "
                                                "did not answer their employee's question in time")
    out = _answered(rule, inp, state)
    msg, a, p = inp.message, inp.actor, rule.params
    text = msg.text or ""
    if a is None or a.is_leader or not _has(text, p.question_words) or _has(text, p.public_words):
        return out
    head = department_head(state, a.department_id)
    if head is None or head.employee_id == a.employee_id:
        return out
    responsible = accounts_on(head, inp.platform or "")
    if responsible:
        due = inp.runtime.working_minutes_deadline(inp.time, p.within_minutes)  # type: ignore[attr-defined]
        out += _open(rule, inp, responsible, due)
    return out


@detector("public_question_reply", on=(MessagePosted, TimerFired), params=QuestionParams,
          when=may_concern_replies)
def public_question_reply(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """公共事务（行政、后勤）问题由行政中心负责人首先答复 / public questions go to the admin-centre head."""
    if isinstance(inp.event, TimerFired):
        return _overdue(rule, inp.event, state, f"未在 {rule.params.within_minutes} 个工作分钟内答复公共事务问题 / "
                                                "did not answer a public question in time")
    out = _answered(rule, inp, state)
    msg, p = inp.message, rule.params
    text = msg.text or ""
    head_id = inp.org.admin_centre_head
    if not head_id or not _has(text, p.question_words) or not _has(text, p.public_words):
        return out
    responsible = [u for u in accounts_on(state.person(head_id), inp.platform or "") if u != msg.user_id]
    if responsible:
        due = inp.runtime.working_minutes_deadline(inp.time, p.within_minutes)  # type: ignore[attr-defined]
        out += _open(rule, inp, responsible, due)
    return out


class AckParams(_P):
    within_minutes: PositiveInt = 60
    ack_words: list[str] = ACK_WORDS
    notice_marks: list[str] = NOTICE_MARKS
    all_members_on_mention_all: bool = True

    def opening_words(self) -> list[str]:
        return self.notice_marks  # acknowledgements only matter to someone awaited


@detector("notice_ack", on=(MessagePosted, TimerFired), params=AckParams,
          when=may_concern_replies)
def notice_ack(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """通知须回复「收到」「执行」等确认 / notices are acknowledged with 收到/好的/执行."""
    ev, p = inp.event, rule.params
    if isinstance(ev, TimerFired):
        return _overdue(rule, ev, state, "未确认群通知（收到/执行）/ did not acknowledge the notice")
    msg = inp.message
    text = msg.text or ""
    out: list[Output] = []
    if _has(text, p.ack_words) and len(text) <= 20:
        out += _answered(rule, inp, state)
    if not _has(text, p.notice_marks) or not (roles_of(state, inp) & {"owner", "admin", "manager", "executive"}):
        return out
    required = [u for u in msg.mentions if u != msg.user_id]
    if msg.mention_all and p.all_members_on_mention_all:
        required = [m.user_id for m in state.members(inp.platform or "", inp.group_id or "") if m.user_id != msg.user_id]
    if required:
        due = inp.runtime.working_minutes_deadline(inp.time, p.within_minutes)  # type: ignore[attr-defined]
        out += _open(rule, inp, required, due)
    return out


class BuckParams(_P):
    unresolved_minutes: PositiveInt = 120
    issue_words: list[str] = ISSUE_WORDS
    deflect_words: list[str] = DEFLECT_WORDS
    waits_on: ClassVar[Literal["sender", "group"]] = "group"
    opens_on_mention: ClassVar[bool] = False

    def opening_words(self) -> list[str]:
        return self.issue_words + self.deflect_words


@detector("buck_passing", on=(MessagePosted, TimerFired), params=BuckParams,
          when=may_concern_issues)
def buck_passing(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """群里提出的问题要有人接、不推诿：推诿措辞需复核；N 个工作分钟无人回应则群主负责 /
    issues raised are taken up, not deflected or left to drift."""
    ev, p = inp.event, rule.params
    if isinstance(ev, TimerFired):
        return _overdue(rule, ev, state, "所在群有问题超时无人回应 / an issue in the group was left unanswered",
                        liable_owner=True)
    ref = inp.ref
    out: list[Output] = [TimerCancel(t.key, inp.time) for t in state.timers_in(rule.timer_ns, ref)
                         if t.data.get("asker") != inp.user_id
                         and inp.time > datetime.fromisoformat(t.data["asked_at"])]
    text = inp.text
    word = _has(text, p.deflect_words)
    if word:
        start = text.find(word)
        out.append(rule.finding(inp, Evidence(summary=f"推诿：「{word}」/ passing the buck", text=text,
                                              span=(start, start + len(word)), matched=word, term=word),
                                needs_review=True))
    g = inp.group
    if _has(text, p.issue_words) and g is not None and g.owner_employee_id:
        owner = state.person(g.owner_employee_id)
        responsible = accounts_on(owner, g.platform) or [g.owner_user_id or ""]
        due = inp.runtime.working_minutes_deadline(inp.time, p.unresolved_minutes)  # type: ignore[attr-defined]
        # one timer per issue, in the group's scope: anyone but the asker answering cancels it
        msg = inp.message
        out.append(TimerSet(key=f"{ref}|{msg.message_id}", due=due, scope=ref, data={
            "platform": inp.platform, "group_id": inp.group_id, "responsible": responsible, "asker": inp.user_id,
            "asked_at": inp.time.isoformat(), "message_id": msg.message_id, "text": text[:200],
            "owner_employee_id": g.owner_employee_id}))
    return out


class InboxParams(_P):
    accounts: list[str]
    within_working_days: PositiveInt = 3


@detector("platform_inbox_reply", on=(MessagePosted, TimerFired), params=InboxParams,
          when=may_concern_replies)
def platform_inbox_reply(rule: ActiveRule, inp: Input, state: StateView) -> list[Output]:
    """公司账号须在 N 个工作日内答复收到的消息 / the company account answers within N working days."""
    ev, p = inp.event, rule.params
    if isinstance(ev, TimerFired):
        return _overdue(rule, ev, state, f"公司账号未在 {p.within_working_days} 个工作日内答复 / "
                                         "the company account did not answer in time")
    out = _answered(rule, inp, state)
    msg = inp.message
    if msg.user_id in p.accounts:
        return out
    targets = [u for u in p.accounts if u in msg.mentions]
    if targets:
        start = inp.runtime.local(inp.time).date()  # type: ignore[attr-defined]
        due = inp.runtime.working_days_deadline(start, p.within_working_days)  # type: ignore[attr-defined]
        out += _open(rule, inp, targets, due)
    return out
