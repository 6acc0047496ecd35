"""Notice texts and enforcement commands for a sanction (pure).

Admins must state the reason publicly when they act [001 德鲁克], so every notice names the rule and
the reason. Templates come from the pack's ``notices:`` (placeholders ``{name}`` ``{rule}``
``{rule_id}`` ``{reason}`` ``{sanction}`` ``{repeat}``); these defaults fill any gap.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contracts.enforcement import EnforcementRequested
from contracts.ids import derive_id
from contracts.sanctions import SanctionItem

DEFAULT_TEMPLATES: dict[str, str] = {
    "reminder": "【群规提醒】@{name} 您好，您的行为不符合群规「{rule}」：{reason}。请遵守群规，谢谢配合。",
    "warning": "【群规警告】@{name} 因违反群规「{rule}」（{reason}），第{repeat}次，处理：{sanction}。",
    "criticism": "【通报批评】{name} 违反群规「{rule}」：{reason}。处理：{sanction}。请大家引以为戒。",
    "mute": "【禁言通知】@{name} 因违反群规「{rule}」（{reason}），处理：{sanction}。",
    "removal": "【清退说明】{name} 因违反群规「{rule}」（{reason}），第{repeat}次违规，依规移出本群。处理：{sanction}。",
    "redline": "【红线警告】{name} 触犯群规红线「{rule}」：{reason}。处理：{sanction}。",
}

KIND_ZH = {
    "reminder": "善意提醒", "warning": "警告", "warning_apology": "警告并在群内道歉",
    "public_criticism": "通报批评", "demerit": "记过", "major_demerit": "记大过", "fine": "罚款",
    "performance_deduction": "扣减绩效", "performance_points": "绩效扣分", "programme_points": "积分",
    "mute": "禁言", "removal": "移出群聊", "blacklist": "拉黑", "platform_ban": "停用工作账号",
    "demotion": "降职", "dismissal_recommendation": "建议解除劳动合同", "referral": "移交有关部门",
}
NOTICE_KINDS = {"reminder", "warning", "warning_apology", "public_criticism", "mute", "removal", "blacklist"}


def _duration_zh(seconds: int) -> str:
    for unit, size in (("周", 604800), ("天", 86400), ("小时", 3600), ("分钟", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}秒"


def describe_item(item: SanctionItem) -> str:
    """One item in Chinese, e.g. ``罚款 50.00 元``, ``禁言 1周``, ``积分 -50 分``."""
    text = item.note or KIND_ZH[item.kind]
    if item.kind == "fine" and item.amount_cny is not None:
        text = f"罚款 {item.amount_cny.quantize(Decimal('0.01'))} 元"
    elif item.kind == "performance_deduction":
        if item.whole_month:
            text = "扣除当月全部绩效"
        elif item.percent is not None:
            text = f"扣减当月绩效 {item.percent}%"
        elif item.amount_cny is not None:
            text = f"扣减绩效 {item.amount_cny.quantize(Decimal('0.01'))} 元"
    elif item.kind in ("performance_points", "programme_points") and item.points is not None:
        text = f"{KIND_ZH[item.kind]} {item.points:+d} 分"
    elif item.kind == "mute" and item.duration_s:
        text = f"禁言 {_duration_zh(item.duration_s)}"
    return text


def describe(items: list[SanctionItem]) -> str:
    return "；".join(describe_item(i) for i in items)


def template_name(items: list[SanctionItem], preferred: str | None) -> str:
    if preferred:
        return preferred
    kinds = {i.kind for i in items}
    for kinds_needed, name in (({"removal", "blacklist"}, "removal"), ({"mute"}, "mute"),
                               ({"public_criticism"}, "criticism"), ({"warning", "warning_apology"}, "warning")):
        if kinds & kinds_needed:
            return name
    return "reminder"


def render(template: str, **fields: object) -> str:
    """``str.format_map`` that leaves unknown placeholders as they are instead of failing."""

    class _Keep(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(_Keep({k: v for k, v in fields.items()}))


def enforcement_for(*, sanction_id: str, items: list[SanctionItem], platform: str, group_id: str | None,
                    user_id: str | None, text: str, at: datetime) -> list[EnforcementRequested]:
    """Commands for the platform: a notice first, then a mute or a removal, for a sanction.

    Nothing when the sanction has no group (a registry rule) or needs no platform action; a mute or
    removal needs the person's account on that platform.
    """
    if not group_id or not {i.kind for i in items} & NOTICE_KINDS:
        return []

    def command(action: str, **extra: object) -> EnforcementRequested:
        return EnforcementRequested(command_id=derive_id("enforce", sanction_id, action), platform=platform,
                                    group_id=group_id, action=action, requested_at=at, sanction_id=sanction_id,
                                    **extra)

    out = [command("notice", text=text, user_id=user_id)]
    mute = next((i for i in items if i.kind == "mute" and i.duration_s), None)
    if user_id and mute is not None:
        out.append(command("mute", user_id=user_id, duration_s=mute.duration_s))
    if user_id and any(i.kind in ("removal", "blacklist") for i in items):
        out.append(command("remove", user_id=user_id))
    return out
