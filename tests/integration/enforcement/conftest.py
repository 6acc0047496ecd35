"""Fixtures: one local fake per platform, the clients pointed at it, and a fast retry policy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from contracts.enforcement import EnforcementRequested
from services.common.settings import Settings
from services.ingest.enforcement.calls import RetryPolicy
from services.ingest.enforcement.clients import build_clients
from tests.integration.enforcement import platforms as p

T0 = datetime(2026, 9, 21, 10, 30, tzinfo=timezone(timedelta(hours=8)))
NOTICE = "【群规提醒】张三 在「销售一部工作群」发布广告内容，违反《群管理制度》第四章第2条，予以警告。"
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05)


def command(platform: str, action: str, group_id: str, **fields) -> EnforcementRequested:
    cid = fields.pop("command_id", f"cmd-{platform}-{action}-{group_id}")
    return EnforcementRequested(command_id=cid, platform=platform, group_id=group_id, action=action,
                                requested_at=T0, **fields)


@pytest.fixture(scope="session")
def _servers():
    started = {"qq": p.FakePlatform(p.onebot_route).start(),
               "dingtalk": p.FakePlatform(p.dingtalk_route).start(),
               "wecom": p.FakePlatform(p.wecom_route).start(),
               "feishu": p.FakePlatform(p.feishu_route).start()}
    yield started
    for fake in started.values():
        fake.stop()


@pytest.fixture
def fakes(_servers):
    """The session's fake platforms with no recorded requests and nothing scripted."""
    for fake in _servers.values():
        fake.reset()
    return _servers


@pytest.fixture
def settings(fakes) -> Settings:
    return Settings(
        onebot_api_url=fakes["qq"].url, onebot_access_token=p.ONEBOT_TOKEN,
        dingtalk_robots={"cidSales01==": {"webhook": f"{fakes['dingtalk'].url}/robot/send?access_token="
                                                     f"{p.DINGTALK_ACCESS_TOKEN}", "secret": p.DINGTALK_SECRET}},
        wecom_api_base=fakes["wecom"].url, wecom_corp_id=p.WECOM_CORP_ID, wecom_corp_secret=p.WECOM_SECRET,
        feishu_api_base=fakes["feishu"].url, feishu_app_id=p.FEISHU_APP_ID, feishu_app_secret=p.FEISHU_SECRET,
        enforcement_max_attempts=3, enforcement_backoff_s=0.01, enforcement_backoff_max_s=0.05,
        enforcement_timeout_s=2.0)


@pytest.fixture
def clients(settings):
    with httpx.Client(timeout=2.0) as http:
        yield build_clients(settings, http)
