"""Feishu / Lark: notices, removals and recalls through the IM v1 API with a tenant access token.

- Token: ``POST /open-apis/auth/v3/tenant_access_token/internal {app_id, app_secret}`` → ``{"code": 0,
  "tenant_access_token": "t-…", "expire": 7200}``; sent as ``Authorization: Bearer``.
- Notice: ``POST /open-apis/im/v1/messages?receive_id_type=chat_id&uuid=<command id>`` ``{"receive_id",
  "msg_type": "text", "content": "{\\"text\\": …}"}`` (content is a JSON *string*). Feishu sends at most one
  message per ``uuid`` within an hour, which makes a repeated notice after a crash harmless.
- Removal: ``DELETE /open-apis/im/v1/chats/{chat_id}/members?member_id_type=open_id {"id_list": [open_id]}``
  (the bot must own or administer the group, or have created it with ``im:chat:operate_as_owner``).
- Recall: ``DELETE /open-apis/im/v1/messages/{message_id}`` (others' messages only as group owner/admin).
- Mute: Feishu can only restrict who may speak in the whole group, not mute one member: unsupported.
Errors come as HTTP 4xx with ``{"code": …, "msg": …}``; 99991400 is the rate limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from contracts.enforcement import EnforcementRequested
from contracts.ids import derive_id
from services.ingest.enforcement.calls import (
    Plan,
    PlatformCall,
    Reply,
    Unsupported,
    http_status_reply,
    missing,
    not_configured,
)
from services.ingest.enforcement.tokens import TokenCache
from services.ingest.enforcement.transport import request

PLATFORM = "feishu"
RATE_LIMITED = 99991400
TOKEN_REJECTED = {99991661, 99991663, 99991668}
UUID_MAX = 50

_MUTE = Unsupported("飞书没有禁言单个群成员的接口（只能设置全群发言权限），请群管理员手动处理",
                    "Feishu cannot mute a single member (only group-wide speaking permissions); "
                    "a group admin must do it by hand")


def dedupe_uuid(command_id: str) -> str:
    """Feishu's ``uuid`` (at most 50 characters): the command id itself, or a uuid5 of a longer one
    (truncating could make two commands share a key and silently drop the second notice)."""
    return command_id if len(command_id) <= UUID_MAX else derive_id("feishu-uuid", command_id)


def plan(command: EnforcementRequested) -> Plan:
    chat = quote(command.group_id, safe="")
    if command.action == "mute":
        return _MUTE
    if command.action == "notice":
        if not command.text:
            return missing("text", "notice")
        content = json.dumps({"text": command.text}, ensure_ascii=False)
        return PlatformCall("POST", "/open-apis/im/v1/messages",
                            {"receive_id": command.group_id, "msg_type": "text", "content": content},
                            params={"receive_id_type": "chat_id", "uuid": dedupe_uuid(command.command_id)})
    if command.action == "recall":
        if not command.message_id:
            return missing("message_id", "recall")
        return PlatformCall("DELETE", f"/open-apis/im/v1/messages/{quote(command.message_id, safe='')}")
    if not command.user_id:
        return missing("user_id", "remove")
    return PlatformCall("DELETE", f"/open-apis/im/v1/chats/{chat}/members", {"id_list": [command.user_id]},
                        params={"member_id_type": "open_id"})


def interpret(status: int, body: Any, retry_after_s: float | None = None) -> Reply:
    code = body.get("code") if isinstance(body, dict) else None
    message = f"Feishu code {code}: {body.get('msg')}" if isinstance(body, dict) else ""
    if code in TOKEN_REJECTED:
        return Reply("refresh", message)
    if code == RATE_LIMITED:
        return Reply("retry", message, retry_after_s=retry_after_s)
    shared = http_status_reply(status, body, retry_after_s)
    if shared is not None:
        return shared
    if code == 0 and status == 200:
        data = body.get("data") or {}
        invalid = data.get("invalid_id_list") if isinstance(data, dict) else None
        if invalid:
            return Reply("fail", f"Feishu: invalid member ids {invalid}")
        return Reply.ok(body)
    return Reply("fail", message or f"HTTP {status}: unexpected answer {str(body)[:200]}")


class FeishuClient:
    platform = PLATFORM

    def __init__(self, http: httpx.Client, api_base: str, app_id: str | None, app_secret: str | None,
                 clock: Callable[[], float] | None = None) -> None:
        self.http, self.api_base = http, api_base.rstrip("/")
        self.app_id, self.app_secret = app_id, app_secret
        kwargs = {"clock": clock} if clock else {}
        self.tokens = TokenCache(self._fetch_token, **kwargs)

    def plan(self, command: EnforcementRequested) -> Plan:
        planned = plan(command)
        if isinstance(planned, PlatformCall) and not (self.app_id and self.app_secret):
            return not_configured("飞书 Feishu", "QG_FEISHU_APP_ID / QG_FEISHU_APP_SECRET")
        return planned

    def _fetch_token(self) -> tuple[str, float] | Reply:
        answer = request(self.http, "POST", self.api_base + "/open-apis/auth/v3/tenant_access_token/internal",
                         json={"app_id": self.app_id, "app_secret": self.app_secret})
        if isinstance(answer, Reply):
            return answer
        body = answer.body
        if isinstance(body, dict) and body.get("code") == 0 and body.get("tenant_access_token"):
            return body["tenant_access_token"], float(body.get("expire", 7200))
        reply = interpret(answer.status, body, answer.retry_after_s)
        return Reply("fail" if reply.kind in ("refresh", "ok") else reply.kind, f"tenant_access_token: {reply.reason}")

    def send(self, call: PlatformCall) -> Reply:
        """One attempt; a rejected token is re-fetched and the call resent once within the attempt."""
        reply = Reply("fail", "not sent")
        for _ in range(2):
            token = self.tokens.get()
            if isinstance(token, Reply):
                return token
            answer = request(self.http, call.method, self.api_base + call.path, json=call.json,
                             params=call.params or None, headers={"Authorization": f"Bearer {token}"})
            reply = answer if isinstance(answer, Reply) else interpret(answer.status, answer.body,
                                                                        answer.retry_after_s)
            if reply.kind != "refresh":
                return reply
            self.tokens.invalidate()
        return Reply("fail", reply.reason)
