"""Composition: the platform clients and retry policy of one process, built from ``Settings``."""

from __future__ import annotations

import httpx

from services.common.settings import Settings
from services.ingest.enforcement.calls import PlatformClient, RetryPolicy
from services.ingest.enforcement.dingtalk import DingTalkClient, Robot
from services.ingest.enforcement.feishu import FeishuClient
from services.ingest.enforcement.onebot import OneBotClient
from services.ingest.enforcement.wecom import WeComClient


def dingtalk_robots(settings: Settings) -> dict[str, Robot]:
    """Per-group robots: the single configured robot (if its group is named) plus ``QG_DINGTALK_ROBOTS``."""
    robots = {gid: Robot(r["webhook"], r.get("secret")) for gid, r in settings.dingtalk_robots.items()}
    if settings.dingtalk_robot_webhook and settings.dingtalk_robot_group_id:
        robots.setdefault(settings.dingtalk_robot_group_id,
                          Robot(settings.dingtalk_robot_webhook, settings.dingtalk_robot_secret))
    return robots


def build_clients(settings: Settings, http: httpx.Client | None = None) -> dict[str, PlatformClient]:
    """One client per platform, keyed by the ``platform`` value of the commands ("qq" is OneBot)."""
    http = http or httpx.Client(timeout=httpx.Timeout(settings.enforcement_timeout_s))
    return {
        "qq": OneBotClient(http, settings.onebot_api_url, settings.onebot_access_token),
        "dingtalk": DingTalkClient(http, dingtalk_robots(settings)),
        "wecom": WeComClient(http, settings.wecom_api_base, settings.wecom_corp_id, settings.wecom_corp_secret),
        "feishu": FeishuClient(http, settings.feishu_api_base, settings.feishu_app_id, settings.feishu_app_secret),
    }


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.enforcement_max_attempts, settings.enforcement_backoff_s,
                       settings.enforcement_backoff_max_s)
