"""Full-engine throughput: realistic Chinese group messages against the whole company default pack.

Run: ``python -m bench.rules_engine [--messages 50000] [--groups 40] [--people 400] [--seed 7]``.

Measures ``services.rules.engine.evaluate`` alone (pure, in-memory ``MemoryState``): every message
goes through every rule of ``policies/company-default.yaml`` that listens to messages (lexicons,
PII, links, flooding, quiet hours, back-and-forth, reply SLAs, nicknames…), including the state folds
and timer bookkeeping. Envelopes and their payloads are built before timing; decoding is not
measured (the worker's cost, not the engine's). Target: ≥ 20,000 messages/s in one process.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contracts import chat, roster
from contracts.clock import ClockTicked
from contracts.envelope import new_event
from contracts.policy import PolicyPublished
from services.rules.engine import PolicyBook, evaluate
from services.rules.policy.loader import load_pack, pack_document
from services.rules.state import MemoryState

TZ = ZoneInfo("Asia/Shanghai")
PLATFORM = "wecom"
DEPTS = [("D-SALES", "销售部"), ("D-MKT", "市场部"), ("D-RD", "研发部"), ("D-FIN", "财务部"), ("D-HR", "人力资源部"),
         ("D-ADMIN", "行政中心"), ("D-OPS", "运营部"), ("D-CS", "客服部")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "丽", "强", "军", "平"]
WORK = ["{n}，华东区本周回款进度已更新到共享表格，请查收。", "明天上午九点开周例会，请各位提前准备材料。",
        "客户那边反馈新版报价单没问题，下午签合同。", "这个需求的排期能否提前到周三？", "收到", "好的，马上处理",
        "已提交报销单，麻烦审批一下。", "今天的拜访记录：走访了三家经销商，库存偏高，建议下月少发货。",
        "测试环境部署完成，请大家回归一下登录和支付流程。", "请问这个月的考勤什么时候截止？",
        "@{n} 合同盖章版扫描件发我一份，谢谢", "会议纪要见附件，有问题随时沟通。", "OK", "辛苦了",
        "服务器告警已处理，原因是磁盘空间不足，已扩容。", "下周二的客户培训改到线上进行。"]
BAD = ["加微信领取免费资料，代理招募中，躺赚不是梦", "我的手机号13812345678，有事打我", "今晚谁来开黑吃鸡",
       "这个不归我管，你找别人吧", "你就是个废物", "点击 http://bad-phish.cn/login 领取红包", "客户名单我发你私人邮箱了"]


def people(n: int, rnd: random.Random) -> list[tuple[str, str, str, str, str]]:
    out = []
    for i in range(n):
        dept_id, dept = DEPTS[i % len(DEPTS)]
        name = rnd.choice(SURNAMES) + rnd.choice(GIVEN)
        level = "executive" if i < 3 else "manager" if i < 3 + len(DEPTS) else "staff"
        out.append((f"E{i:05d}", f"u{i:05d}", name, dept_id, dept, level))  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


def setup(state: MemoryState, book: PolicyBook, n_people: int, n_groups: int, rnd: random.Random):
    pack = load_pack("policies/company-default.yaml")
    t0 = datetime(2025, 3, 3, 8, 0, tzinfo=TZ)
    seq = iter(range(10**9))

    def feed(payload, when):
        evaluate(state, new_event(payload, id=f"s{next(seq)}", source="bench", time=when), book)

    doc = pack_document(pack)
    feed(PolicyPublished(policy_id=pack.id, version=1, effective_from=pack.effective_from, sha256="b",
                         published_by="bench", pack=doc), t0 - timedelta(days=90))
    staff = people(n_people, rnd)
    heads = {d: staff[3 + i][0] for i, (d, _) in enumerate(DEPTS)}
    for dept_id, dept in DEPTS:
        feed(roster.DepartmentChanged(department_id=dept_id, name=dept, head_id=heads[dept_id],
                                      occurred_at=t0 - timedelta(days=60)), t0 - timedelta(days=60))
    for eid, uid, name, dept_id, dept, level in staff:
        facts = roster.EmployeeFacts(name=name, department_id=dept_id, department=dept, level=level,
                                     accounts=[roster.Account(platform=PLATFORM, user_id=uid)])
        feed(roster.EmployeeHired(employee_id=eid, occurred_at=t0 - timedelta(days=50), facts=facts),
             t0 - timedelta(days=50))
    groups = []
    for g in range(n_groups):
        dept_id, dept = DEPTS[g % len(DEPTS)]
        gid = f"g{g:03d}"
        members = [p for p in staff if p[3] == dept_id] + staff[:3]
        info = roster.GroupInfo(name=f"天高集团{dept}工作{g}群", category="department", owner_id=heads[dept_id],
                                admin_ids=[], department_id=dept_id)
        feed(roster.GroupRegistered(platform=PLATFORM, group_id=gid, occurred_at=t0 - timedelta(days=40), info=info),
             t0 - timedelta(days=40))
        feed(chat.MembersSnapshot(platform=PLATFORM, group_id=gid, platform_event_id=f"snap{g}",
                                  occurred_at=t0 - timedelta(days=40),
                                  members=[chat.SnapshotMember(user_id=p[1], nickname=f"{p[4]}-{p[2]}") for p in members]),
             t0 - timedelta(days=40))
        groups.append((gid, members))
    return groups, t0


def messages(groups, t0: datetime, n: int, rnd: random.Random):
    """``n`` messages about 1.3 s apart (a busy company), with the ticker's ClockTicked every minute."""
    out = []
    when = t0
    next_tick = t0 + timedelta(minutes=1)
    for i in range(n):
        when += timedelta(milliseconds=rnd.randrange(200, 2500))
        if when >= next_tick:
            tick = ClockTicked(now=next_tick)
            out.append((new_event(tick, id=f"t{i}", source="bench", time=next_tick), tick))
            next_tick += timedelta(minutes=1)
        gid, members = rnd.choice(groups)
        who = rnd.choice(members)
        other = rnd.choice(members)
        text = rnd.choice(BAD) if rnd.random() < 0.03 else rnd.choice(WORK).format(n=other[2])
        mentions = [other[1]] if "@" in text else []
        msg = chat.MessagePosted(platform=PLATFORM, group_id=gid, platform_event_id=f"m{i}", occurred_at=when,
                                 message_id=f"m{i}", user_id=who[1], nickname=f"{who[4]}-{who[2]}", text=text,
                                 mentions=mentions, msg_type="image" if rnd.random() < 0.05 else "text")
        out.append((new_event(msg, id=f"m{i}", source="bench", time=when), msg))
    return out


def dump_events(emitted: list, path: str) -> None:
    """Write every emitted event as one JSON line (id, type, time, causes, payload), sorted, so two
    versions of the engine can be compared with ``cmp`` or ``diff`` (their output must not change)."""
    import json

    lines = sorted(json.dumps([e.id, type(e.payload).__name__, e.time.isoformat(), list(e.causation),
                               e.payload.model_dump(mode="json")], ensure_ascii=False, sort_keys=True)
                   for e in emitted)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def bench_engine(n_messages: int = 50_000, n_groups: int = 40, n_people: int = 400, seed: int = 7,
                 profile: str | None = None, dump: str | None = None) -> dict:
    """One pass: a fresh state, warm-up on the first 10 %, the rest timed (optionally profiled with
    cProfile into ``profile``; with ``dump``, every event emitted over the whole stream, warm-up
    included, is written there after timing, see :func:`dump_events`)."""
    rnd = random.Random(seed)
    state, book = MemoryState(), PolicyBook()
    groups, t0 = setup(state, book, n_people, n_groups, rnd)
    events = messages(groups, t0, n_messages, rnd)
    warm = events[: len(events) // 10]
    kept: list = []
    for e, payload in warm:
        kept += evaluate(state, e, book, payload)
    emitted = 0
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu_started = time.perf_counter(), time.process_time()
    if dump:
        for e, payload in events[len(warm):]:
            found = evaluate(state, e, book, payload)
            emitted += len(found)
            kept += found
    else:
        for e, payload in events[len(warm):]:
            emitted += len(evaluate(state, e, book, payload))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    if dump:
        dump_events(kept, dump)
    measured = sum(1 for e, _ in events[len(warm):] if isinstance(_, chat.MessagePosted))
    rules = len(book.in_force(state, t0)[0].rules)
    ticks = len(events) - len(warm) - measured
    return {"messages": measured, "ticks": ticks, "seconds": round(elapsed, 3), "msgs_per_s": round(measured / elapsed),
            "cpu_msgs_per_s": round(measured / cpu),
            "events_emitted": emitted, "rules": rules, "groups": n_groups, "people": n_people}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="passes; the best is reported (noisy machines)")
    parser.add_argument("--profile", help="write cProfile stats of the timed part of one pass here")
    parser.add_argument("--dump", help="write every emitted event of one pass here, one sorted JSON line each "
                                       "(compare two versions of the engine with cmp)")
    args = parser.parse_args()
    runs = [bench_engine(args.messages, args.groups, args.people, args.seed, args.profile if i == 0 else None,
                         args.dump if i == 0 else None)
            for i in range(args.repeat)]
    best = max(runs, key=lambda r: r["msgs_per_s"])
    best["passes"] = ",".join(str(r["msgs_per_s"]) for r in runs)
    print(" ".join(f"{k}={v}" for k, v in best.items()))


if __name__ == "__main__":
    main()
