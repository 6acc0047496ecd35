"""WeCom (企业微信): notices and removals in internal group chats created by the company's app.

- Token: ``GET /cgi-bin/gettoken?corpid=…&corpsecret=…`` → ``{"errcode": 0, "access_token": …,
  "expires_in": 7200}``, cached until shortly before expiry (``tokens.TokenCache``).
- Notice: ``POST /cgi-bin/appchat/send?access_token=…`` ``{"chatid", "msgtype": "text", "text": {"content"},
  "safe": 0}``. Removal: ``POST /cgi-bin/appchat/update`` ``{"chatid", "del_user_list": [userid]}``.
  Both only reach group chats the app created with ``appchat/create``; for other chat ids WeCom answers
  an errcode, which becomes a failed outcome naming it.
- Customer groups (客户群, chat ids ``wr…``): WeCom offers no API to post into them directly (only a
  mass-message task the owner must confirm) and none to remove a member: unsupported.
- There is no API to mute a member, and ``message/recall`` recalls only the app's own messages:
  unsupported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from services.ingest.enforcement.tokens import TokenCache
from services.ingest.enforcement.transport import request

PLATFORM = "wecom"
TOKEN_REJECTED = {40014, 42001, 41001}  # invalid, expired, missing access_token
RETRYABLE = {-1, 45009, 45033}  # system busy, API frequency limit, concurrent call limit
CUSTOMER_GROUP_PREFIX = "wr"

_MUTE = Unsupported("企业微信没有禁言群成员的接口，请群主手动处理",
                    "WeCom has no API to mute a group member; the group owner must do it by hand")
_RECALL = Unsupported("企业微信只能撤回应用自己发送的消息，无法撤回群成员的消息，请群主手动处理",
                      "WeCom can only recall the app's own messages, not a member's; "
                      "the group owner must do it by hand")
_CUSTOMER = {
    "notice": Unsupported("企业微信客户群不支持应用直接发消息（只能由群主确认群发），请群主手动发布提醒",
                          "WeCom customer groups accept no direct app messages (only owner-confirmed mass "
                          "messages); the group owner must post the notice"),
    "remove": Unsupported("企业微信客户群没有移除成员的接口，请群主手动移除",
                          "WeCom customer groups have no API to remove a member; the group owner must do it"),
}


def plan(command: EnforcementRequested) -> Plan:
    if command.action == "mute":
        return _MUTE
    if command.action == "recall":
        return _RECALL
    if command.group_id.startswith(CUSTOMER_GROUP_PREFIX):
        return _CUSTOMER[command.action]
    if command.action == "notice":
        if not command.text:
            return missing("text", "notice")
        return PlatformCall("POST", "/cgi-bin/appchat/send",
                            {"chatid": command.group_id, "msgtype": "text", "text": {"content": command.text},
                             "safe": 0})
    if not command.user_id:
        return missing("user_id", "remove")
    return PlatformCall("POST", "/cgi-bin/appchat/update",
                        {"chatid": command.group_id, "del_user_list": [command.user_id]})


def interpret(status: int, body: Any, retry_after_s: float | None = None) -> Reply:
    shared = http_status_reply(status, body, retry_after_s)
    if shared is not None:
        return shared
    if status != 200 or not isinstance(body, dict):
        return Reply("fail", f"HTTP {status}: unexpected answer {str(body)[:200]}")
    code = body.get("errcode", 0)
    if code == 0:
        return Reply.ok(body)
    message = f"WeCom errcode {code}: {body.get('errmsg')}"
    if code in TOKEN_REJECTED:
        return Reply("refresh", message)
    return Reply("retry" if code in RETRYABLE else "fail", message)


class WeComClient:
    platform = PLATFORM

    def __init__(self, http: httpx.Client, api_base: str, corp_id: str | None, corp_secret: str | None,
                 clock: Callable[[], float] | None = None) -> None:
        self.http, self.api_base = http, api_base.rstrip("/")
        self.corp_id, self.corp_secret = corp_id, corp_secret
        kwargs = {"clock": clock} if clock else {}
        self.tokens = TokenCache(self._fetch_token, **kwargs)

    def plan(self, command: EnforcementRequested) -> Plan:
        planned = plan(command)
        if isinstance(planned, PlatformCall) and not (self.corp_id and self.corp_secret):
            return not_configured("企业微信 WeCom", "QG_WECOM_CORP_ID / QG_WECOM_CORP_SECRET")
        return planned

    def _fetch_token(self) -> tuple[str, float] | Reply:
        answer = request(self.http, "GET", self.api_base + "/cgi-bin/gettoken",
                         params={"corpid": self.corp_id or "", "corpsecret": self.corp_secret or ""})
        if isinstance(answer, Reply):
            return answer
        reply = interpret(answer.status, answer.body, answer.retry_after_s)
        if reply.kind != "ok":
            return Reply("fail" if reply.kind == "refresh" else reply.kind, f"gettoken: {reply.reason}")
        return reply.data["access_token"], float(reply.data.get("expires_in", 7200))

    def send(self, call: PlatformCall) -> Reply:
        """One attempt; a rejected token is re-fetched and the call resent once within the attempt."""
        reply = Reply("fail", "not sent")
        for _ in range(2):
            token = self.tokens.get()
            if isinstance(token, Reply):
                return token
            answer = request(self.http, call.method, self.api_base + call.path, json=call.json,
                             params={**call.params, "access_token": token})
            reply = answer if isinstance(answer, Reply) else interpret(answer.status, answer.body,
                                                                        answer.retry_after_s)
            if reply.kind != "refresh":
                return reply
            self.tokens.invalidate()
        return Reply("fail", reply.reason)
