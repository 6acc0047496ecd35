"""``qg demo``: a realistic sample day on top of ``qg up`` (see :mod:`services.demo.player`)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, help="演示 / Feed a realistic sample day of group chat.")
POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _token(settings, given: str | None) -> str:
    """--token / QG_DEMO_TOKEN, else a fresh admin token named qg-demo added to the tokens file that
    ``qg up`` uses (the services reload it; the first admin token is stored only as a hash)."""
    if given:
        return given
    from services.cli.up import tokens_path
    from services.common.auth import create_token

    token = create_token("qg-demo", ["admin"], tokens_path(settings))
    time.sleep(1.0)  # the services notice the changed tokens file on their next request
    return token


@app.command("demo")
def demo(
    speed: Annotated[float, typer.Option(help="模拟秒/真实秒 / simulated seconds per real second")] = 600.0,
    fast: Annotated[bool, typer.Option("--fast", help="不等待，尽快播放 / no pauses")] = False,
    token: Annotated[str | None, typer.Option(envvar="QG_DEMO_TOKEN", help="admin 令牌 / admin token")] = None,
    day: Annotated[str | None, typer.Option("--date", help="演示日期 YYYY-MM-DD（默认上一个工作日）")] = None,
    seed: Annotated[int, typer.Option(help="随机种子 / generator seed")] = 7,
    live: Annotated[bool, typer.Option(help="最后经平台 webhook 实时发送几条 / end with live webhooks")] = True,
) -> None:
    """加载示例公司并播放一天的群聊 / Load the sample company and play a compressed day of group chat."""
    import httpx

    from services.common.settings import get_settings
    from services.demo import activity as act
    from services.demo import player as p
    from services.demo.platforms import Secrets

    settings = get_settings()
    the_day = date.fromisoformat(day) if day else p.demo_day(date.today())
    urls = {s: settings.service_url(s) for s in p.SERVICES}
    say = typer.echo
    a = act.day(the_day, seed)
    secrets = Secrets(settings.onebot_secret, settings.dingtalk_app_secret, settings.feishu_verification_token,
                      settings.feishu_encrypt_key)
    bearer = _token(settings, token)
    with httpx.Client(headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as client:
        pl = p.Player(client, urls, say, secrets)
        try:
            _run(pl, a, the_day, 0.0 if fast else speed, live, say)
        except p.DemoError as exc:
            say(f"演示中止 / demo stopped: {exc}", err=True)
            raise typer.Exit(1) from exc
        sanction = p.sample_sanction(client, urls)
    say("\n接下来看这些 / Now look at:")
    for label, url in p.urls_to_visit(urls, the_day, sanction):
        say(f"  {label:<40} {url}")
    say(f'\n示例 / e.g.: curl -H "Authorization: Bearer {bearer}" {urls["rules"]}/v1/violations')
    say("执法通知（【群规提醒】…）由 ingest 的执法 worker 发往各平台；未配置平台接口时记录为 EnforcementFailed。\n"
        "Enforcement notices go to the platforms from the ingest worker; without platform APIs configured "
        "they are recorded as EnforcementFailed with the reason.")


def _run(pl, a, the_day: date, speed: float, live: bool, say) -> None:
    from services.demo import player as p

    phases = p.plan(a)
    say(f"示例公司 / sample company: {a.company.name}, {len(a.company.employees)} 人 / people, "
        f"{len(a.company.groups)} 个群 / groups; 演示日 / day {the_day}: {len(a.messages)} 条消息 / messages, "
        f"{len(a.labels)} 处预期违规 / expected violations")
    pl.health()
    say("1/6 发布策略包 / publishing policy packs")
    pl.publish_packs(sorted(POLICIES.glob("*.yaml")))
    say("2/6 SCIM 导入员工 / provisioning people over SCIM")
    pl.load_roster(a)
    say("3/6 登记群 / registering groups")
    pl.register_groups(a)
    say("4/6 群成员快照与人事变动 / member snapshots and HR changes")
    pl.send_generic(phases.setup)
    time.sleep(2.0)  # let roster and rules see the memberships before the departures arrive
    pl.hr_changes(a)
    time.sleep(2.0)
    say(f"5/6 播放群聊 / playing the day (x{speed:g})" if speed else "5/6 播放群聊 / playing the day (fast)")
    pl.play(phases.chat, speed)
    if live:
        say("6/6 经平台 webhook 实时发送 / live messages through the platforms' webhooks")
        names = {acc: e.name for e in a.company.employees for acc in e.accounts.values()}
        pl.send_live(p.live_tail(a, p.now_utc()), names)
    say("统计 / counts: " + ", ".join(f"{k}={v}" for k, v in sorted(pl.stats.items())))


demo_cmd = app
