"""DingTalk: notices through a group's custom robot webhook, signed with its ``SEC…`` secret.

``POST https://oapi.dingtalk.com/robot/send?access_token=…&timestamp=<ms>&sign=<urlencoded base64
HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)>`` with ``{"msgtype": "text", "text": {"content":
…}}``; answer ``{"errcode": 0, "errmsg": "ok"}``. A robot may send 20 messages a minute; beyond that
DingTalk answers errcode 130101 and throttles it for 10 minutes.

A custom robot lives in exactly one group and can only post. DingTalk's member APIs (mute with
``UpdateMemberBanWords``, remove with ``scenegroup/member/delete``) work only for *scene groups* created by
the company's own app with ``openConversationId``, which Qunguard does not create or manage; recalling
works only for the robot's own messages. So mute, remove and recall are reported as unsupported, in the
event, for a group admin to do by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx

from contracts.enforcement import EnforcementRequested
from services.ingest.enforcement.calls import (
    Plan,
    PlatformCall,
    Reply,
    Unsupported,
    http_status_reply,
    missing,
    not_configured,
)
from services.ingest.enforcement.transport import request

PLATFORM = "dingtalk"
RATE_LIMITED = 130101
SYSTEM_BUSY = -1

_UNSUPPORTED = {
    "mute": Unsupported("钉钉自定义机器人无法禁言群成员（禁言接口仅适用于企业应用创建的场景群），请群管理员手动处理",
                        "DingTalk custom robots cannot mute members (the mute API only covers scene groups "
                        "created by the company's app); a group admin must do it by hand"),
    "remove": Unsupported("钉钉自定义机器人无法移除群成员（移除接口仅适用于企业应用创建的场景群），请群管理员手动处理",
                          "DingTalk custom robots cannot remove members (the member API only covers scene "
                          "groups created by the company's app); a group admin must do it by hand"),
    "recall": Unsupported("钉钉不支持撤回群成员发送的消息，请群管理员手动处理",
                          "DingTalk has no API to recall a member's message; a group admin must do it by hand"),
}


@dataclass(frozen=True)
class Robot:
    """A group's custom robot: its webhook URL (with ``access_token``) and optional signing secret."""

    webhook: str
    secret: str | None = None


def sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk's signature, URL-encoded ready for the query string."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def plan(command: EnforcementRequested) -> Plan:
    """A text message to the group's robot for a notice; everything else is unsupported."""
    if command.action != "notice":
        return _UNSUPPORTED[command.action]
    if not command.text:
        return missing("text", "notice")
    return PlatformCall("POST", "", {"msgtype": "text", "text": {"content": command.text}}, target=command.group_id)


def interpret(status: int, body: Any, retry_after_s: float | None = None) -> Reply:
    shared = http_status_reply(status, body, retry_after_s)
    if shared is not None:
        return shared
    if status != 200 or not isinstance(body, dict):
        return Reply("fail", f"HTTP {status}: unexpected answer {str(body)[:200]}")
    code = body.get("errcode")
    if code == 0:
        return Reply.ok(body)
    if code == RATE_LIMITED:
        return Reply("retry", f"DingTalk errcode {code} rate limited: {body.get('errmsg')}", retry_after_s=60.0)
    if code == SYSTEM_BUSY:
        return Reply("retry", f"DingTalk errcode {code} system busy: {body.get('errmsg')}")
    return Reply("fail", f"DingTalk errcode {code}: {body.get('errmsg')}")


class DingTalkClient:
    """Posts to the robot configured for each group; ``now_ms`` is injectable for signature tests."""

    platform = PLATFORM

    def __init__(self, http: httpx.Client, robots: Mapping[str, Robot],
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.http, self.robots, self.now_ms = http, dict(robots), now_ms

    def plan(self, command: EnforcementRequested) -> Plan:
        planned = plan(command)
        if isinstance(planned, PlatformCall) and planned.target not in self.robots:
            return not_configured("钉钉 DingTalk", f"a robot webhook for group {command.group_id} (QG_DINGTALK_ROBOTS)")
        return planned

    def send(self, call: PlatformCall) -> Reply:
        robot = self.robots[call.target or ""]
        url = robot.webhook
        if robot.secret:
            ts = self.now_ms()
            url += f"{'&' if '?' in url else '?'}timestamp={ts}&sign={sign(ts, robot.secret)}"
        answer = request(self.http, call.method, url, json=call.json)
        return answer if isinstance(answer, Reply) else interpret(answer.status, answer.body, answer.retry_after_s)
