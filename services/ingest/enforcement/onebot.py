"""QQ through OneBot v11 (NapCat, LLOneBot): HTTP actions ``POST /<action>`` with a JSON body.

Actions (onebot-11 ``api/public.md``): ``send_group_msg {group_id, message, auto_escape}``,
``set_group_ban {group_id, user_id, duration}`` (seconds; 0 lifts the ban), ``set_group_kick {group_id,
user_id, reject_add_request}``, ``delete_msg {message_id}``. Auth: ``Authorization: Bearer <token>``.
Answer: ``{"status": "ok" | "async" | "failed", "retcode": 0 | 1 | …, "data": …}``; HTTP 401/403 for a
bad token, 404 for an action the implementation does not have. The bot must be a group admin to ban,
kick or recall others' messages.
"""

from __future__ import annotations

from typing import Any

import httpx

from contracts.enforcement import EnforcementRequested
from services.ingest.enforcement.calls import (
    Invalid,
    Plan,
    PlatformCall,
    Reply,
    http_status_reply,
    missing,
    not_configured,
)
from services.ingest.enforcement.transport import request

PLATFORM = "qq"


def _int(value: str, name: str) -> int | Invalid:
    try:
        return int(value)
    except ValueError:
        return Invalid(f"{name} 不是数字：{value}", f"{name} is not numeric: {value}")


def plan(command: EnforcementRequested) -> Plan:
    """The OneBot action for a command. Notices are sent with ``auto_escape`` so that text such as a
    nickname containing ``[CQ:at,qq=all]`` is shown literally and can never become an @all or an image."""
    group = _int(command.group_id, "group_id")
    if isinstance(group, Invalid):
        return group
    if command.action == "notice":
        if not command.text:
            return missing("text", "notice")
        return PlatformCall("POST", "/send_group_msg",
                            {"group_id": group, "message": command.text, "auto_escape": True})
    if command.action == "recall":
        if not command.message_id:
            return missing("message_id", "recall")
        message = _int(command.message_id, "message_id")
        return message if isinstance(message, Invalid) else PlatformCall("POST", "/delete_msg", {"message_id": message})
    if not command.user_id:
        return missing("user_id", command.action)
    user = _int(command.user_id, "user_id")
    if isinstance(user, Invalid):
        return user
    if command.action == "mute":
        if command.duration_s is None:
            return missing("duration_s", "mute")
        return PlatformCall("POST", "/set_group_ban",
                            {"group_id": group, "user_id": user, "duration": command.duration_s})
    return PlatformCall("POST", "/set_group_kick",
                        {"group_id": group, "user_id": user, "reject_add_request": False})


def interpret(status: int, body: Any, retry_after_s: float | None = None) -> Reply:
    """Classify a OneBot answer. ``async`` (retcode 1) means accepted for later execution: success."""
    shared = http_status_reply(status, body, retry_after_s)
    if shared is not None:
        return shared
    if status in (401, 403):
        return Reply("fail", f"HTTP {status}: access token rejected")
    if status == 404:
        return Reply("fail", "HTTP 404: the OneBot implementation has no such action")
    if status != 200 or not isinstance(body, dict):
        return Reply("fail", f"HTTP {status}: unexpected answer {str(body)[:200]}")
    if body.get("status") in ("ok", "async"):
        return Reply.ok({"status": body["status"], "retcode": body.get("retcode"), "data": body.get("data")})
    detail = body.get("wording") or body.get("message") or body.get("msg") or ""
    return Reply("fail", f"OneBot failed: retcode {body.get('retcode')} {detail}".strip())


class OneBotClient:
    """Sends planned actions to one OneBot HTTP endpoint."""

    platform = PLATFORM

    def __init__(self, http: httpx.Client, api_url: str | None, access_token: str | None = None) -> None:
        self.http, self.api_url, self.access_token = http, (api_url or "").rstrip("/"), access_token

    def plan(self, command: EnforcementRequested) -> Plan:
        return plan(command) if self.api_url else not_configured("OneBot", "QG_ONEBOT_API_URL")

    def send(self, call: PlatformCall) -> Reply:
        headers = {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
        answer = request(self.http, call.method, self.api_url + call.path, json=call.json, headers=headers)
        return answer if isinstance(answer, Reply) else interpret(answer.status, answer.body, answer.retry_after_s)

