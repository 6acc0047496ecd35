"""HTTP edges of ingest: one thin route per platform webhook or import, plus the audit lookup.

Each route reads the raw body (signatures are over the exact bytes), calls its adapter's pure
verify/parse functions, and hands the result to :class:`~services.ingest.intake.Intake`, which
answers only after the events are durably on the log. Platform webhooks authenticate by the
platform's own signature; the generic and archive endpoints by bearer token (role ``ingest``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

from contracts.chat import Platform
from services.common.auth import Principal, require
from services.common.problems import ProblemError
from services.ingest.adapters import dingtalk, feishu, generic, msgcrypt, onebot, wecom
from services.ingest.adapters.base import Parsed, SignatureError, SignatureResult
from services.ingest.intake import Intake, Outcome, Prepared, Receipt, lookup, prepare
from services.ingest.openapi import GENERIC_BODY, WEBHOOK_BODY

router = APIRouter(tags=["ingest"])
audit_router = APIRouter(tags=["audit"])

Ingester = Annotated[Principal, Depends(require("ingest"))]
Auditor = Annotated[Principal, Depends(require("auditor", "compliance"))]

_KEPT_HEADERS = ("content-type", "user-agent", "x-self-id", "x-signature", "timestamp", "sign",
                 "x-lark-request-timestamp", "x-lark-request-nonce", "x-lark-signature")


class IngestAnswer(BaseModel):
    accepted: int
    duplicates: int
    ignored: int = 0


class EventLookup(BaseModel):
    event: dict[str, Any]
    receipt: dict[str, Any] | None


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _kept(request: Request) -> dict[str, str]:
    """The headers worth keeping for audit (never Authorization), plus the signed query string."""
    kept = {k: v for k, v in request.headers.items() if k.lower() in _KEPT_HEADERS}
    kept.update({f"query:{k}": v for k, v in request.query_params.items() if k != "echostr"})
    return kept


def _secret(request: Request, name: str) -> str | None:
    """A configured secret, or None when unsigned webhooks are allowed (development); else 401."""
    value = getattr(_settings(request), name, None)
    if value:
        return value
    if _settings(request).ingest_allow_unsigned:
        return None
    raise SignatureError("not_configured", f"未配置 QG_{name.upper()}，拒绝未签名请求 / "
                                           f"QG_{name.upper()} is not configured; unsigned requests are refused")


def _receipt(request: Request, adapter: str, platform: Platform, body: bytes, signature: SignatureResult) -> Receipt:
    return Receipt(adapter=adapter, platform=platform, received_at=_now(request), body=body,
                   signature=signature, headers=_kept(request))


async def _accept(request: Request, adapter: str, platform: Platform, body: bytes,
                  signature: SignatureResult, parsed: Parsed) -> Outcome:
    intake: Intake = request.app.state.intake
    return await intake.accept_async(_receipt(request, adapter, platform, body, signature), parsed)


async def _accept_batch(request: Request, adapter: str, body: bytes,
                        parse: Callable[[bytes], tuple[Platform, Parsed]]) -> Outcome:
    """Parse and prepare a batch in a worker thread: up to 10,000 events is ~0.2 s of CPU that must
    not stall the event loop (and every webhook waiting on it)."""
    received_at, headers = _now(request), _kept(request)

    def work() -> Prepared:
        platform, parsed = parse(body)
        return prepare(Receipt(adapter=adapter, platform=platform, received_at=received_at, body=body,
                               signature="verified", headers=headers), parsed)

    intake: Intake = request.app.state.intake
    return await intake.accept_prepared(await run_in_threadpool(work))


def _answer(outcome: Outcome, status: int = 202) -> JSONResponse:
    return JSONResponse(outcome.answer(), status_code=status)


@router.post("/v1/ingest/generic", status_code=202, response_model=IngestAnswer, openapi_extra=GENERIC_BODY,
             summary="通用 JSON 事件 / Generic JSON events (one object or {\"events\": [...]}, ≤ 10,000)")
async def ingest_generic(request: Request, _: Ingester) -> JSONResponse:
    return _answer(await _accept_batch(request, "generic", await request.body(), _generic))


def _generic(body: bytes) -> tuple[Platform, Parsed]:
    parsed = generic.parse_canonical(body)
    platforms = {c.data["platform"] for c in parsed.records()}
    return (platforms.pop() if len(platforms) == 1 else "other"), parsed


@router.post("/v1/ingest/onebot", response_model=IngestAnswer, openapi_extra=WEBHOOK_BODY,
             summary="QQ（OneBot v11 HTTP POST 上报）/ QQ via OneBot v11 event reports")
async def ingest_onebot(request: Request) -> JSONResponse:
    body = await request.body()
    secret = _secret(request, "onebot_secret")
    if secret:
        onebot.verify(body, request.headers, secret)
    settings = _settings(request)
    parsed = onebot.parse(body, now=_now(request), max_age_s=settings.webhook_max_age_s)
    outcome = await _accept(request, "onebot", "qq", body, "verified" if secret else "not_configured", parsed)
    return _answer(outcome, 200)


@router.post("/v1/ingest/dingtalk", response_model=IngestAnswer, openapi_extra=WEBHOOK_BODY,
             summary="钉钉机器人回调 / DingTalk robot outgoing callback")
async def ingest_dingtalk(request: Request) -> JSONResponse:
    body = await request.body()
    secret = _secret(request, "dingtalk_app_secret")
    if secret:
        dingtalk.verify_robot(request.headers, secret, _now(request), _settings(request).webhook_max_age_s)
    parsed = dingtalk.parse_robot(body)
    outcome = await _accept(request, "dingtalk", "dingtalk", body, "verified" if secret else "not_configured", parsed)
    return _answer(outcome, 200)


@router.post("/v1/ingest/dingtalk/events", openapi_extra=WEBHOOK_BODY,
             summary="钉钉事件订阅（加密）/ DingTalk encrypted event callback: group changes")
async def ingest_dingtalk_events(request: Request) -> JSONResponse:
    body = await request.body()
    s = _settings(request)
    token, aes_key, owner = s.dingtalk_event_token, s.dingtalk_event_aes_key, s.dingtalk_event_owner_key
    if not (token and aes_key and owner):
        raise SignatureError("not_configured", "未配置钉钉事件订阅密钥 / QG_DINGTALK_EVENT_TOKEN, "
                                               "_AES_KEY and _OWNER_KEY are required")
    encrypt = dingtalk.encrypt_of(body)
    now = _now(request)
    dingtalk.verify_event(request.query_params, encrypt, token, now, s.webhook_max_age_s)
    plaintext = msgcrypt.decrypt(aes_key, encrypt, owner)
    parsed = dingtalk.parse_event(plaintext)
    parsed = Parsed(parsed.events, parsed.ignored, group_id=parsed.group_id, audit_body=plaintext.encode())
    await _accept(request, "dingtalk-events", "dingtalk", body, "verified", parsed)
    return JSONResponse(dingtalk.encrypted_success(aes_key, token, owner, random16=os.urandom(16),
                                                   nonce=os.urandom(6).hex(), now=now))


def _wecom_keys(request: Request) -> tuple[str, str, str]:
    s = _settings(request)
    if not (s.wecom_token and s.wecom_aes_key and getattr(s, "wecom_corp_id", None)):
        raise SignatureError("not_configured", "未配置企业微信回调密钥 / QG_WECOM_TOKEN, QG_WECOM_AES_KEY "
                                               "and QG_WECOM_CORP_ID are required")
    return s.wecom_token, s.wecom_aes_key, s.wecom_corp_id


@router.get("/v1/ingest/wecom/callback", response_class=PlainTextResponse,
            summary="企业微信回调 URL 验证 / WeCom callback URL check (answers the decrypted echostr)")
async def wecom_url_check(request: Request) -> PlainTextResponse:
    token, aes_key, corp_id = _wecom_keys(request)
    q = request.query_params
    echostr = q.get("echostr") or ""
    plain = wecom.verify_and_decrypt(q, echostr, token=token, aes_key=aes_key, corp_id=corp_id,
                                     now=_now(request), max_age_s=_settings(request).webhook_max_age_s)
    return PlainTextResponse(plain)


@router.post("/v1/ingest/wecom/callback", response_class=PlainTextResponse, openapi_extra=WEBHOOK_BODY,
             summary="企业微信客户群变更回调 / WeCom customer-group change callback (encrypted XML)")
async def wecom_callback(request: Request) -> PlainTextResponse:
    token, aes_key, corp_id = _wecom_keys(request)
    body = await request.body()
    plaintext = wecom.verify_and_decrypt(request.query_params, wecom.encrypt_of(body), token=token,
                                         aes_key=aes_key, corp_id=corp_id, now=_now(request),
                                         max_age_s=_settings(request).webhook_max_age_s)
    parsed = wecom.parse_callback(plaintext)
    parsed = Parsed(parsed.events, parsed.ignored, group_id=parsed.group_id, audit_body=plaintext.encode())
    await _accept(request, "wecom-callback", "wecom", body, "verified", parsed)
    return PlainTextResponse("success")  # WeCom accepts "success" (or an empty body) within 5 s


@router.post("/v1/ingest/wecom/archive", status_code=202, response_model=IngestAnswer,
             openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {
                 "schema": {"type": "string", "description": "会话内容存档解密后的记录，每行一条 JSON / "
                                                             "decrypted chat-archive records, JSON Lines"}}}}},
             summary="企业微信会话存档导入 / WeCom chat-archive import (JSON Lines)")
async def wecom_archive(request: Request, _: Ingester) -> JSONResponse:
    return _answer(await _accept_batch(request, "wecom-archive", await request.body(), _wecom_archive))


def _wecom_archive(body: bytes) -> tuple[Platform, Parsed]:
    parsed = wecom.parse_archive_lines(body.splitlines())
    if len(parsed.events) > generic.MAX_EVENTS:
        raise ProblemError(413, detail=f"每次最多 {generic.MAX_EVENTS} 条记录 / at most {generic.MAX_EVENTS} records per request")
    return "wecom", parsed


@router.post("/v1/ingest/feishu", openapi_extra=WEBHOOK_BODY,
             summary="飞书事件订阅 v2 / Feishu event subscription v2 (challenge, token, encrypted mode)")
async def ingest_feishu(request: Request) -> JSONResponse:
    body = await request.body()
    s = _settings(request)
    key, token = s.feishu_encrypt_key, s.feishu_verification_token
    event, encrypted = feishu.open_envelope(body, key)
    if not token and not s.ingest_allow_unsigned:
        raise SignatureError("not_configured", "未配置 QG_FEISHU_VERIFICATION_TOKEN / verification token not configured")
    if token:
        feishu.check_token(event, token)
    if feishu.is_challenge(event):
        return JSONResponse({"challenge": event.get("challenge", "")})
    if key:
        feishu.verify_signature(body, request.headers, key, _now(request), s.webhook_max_age_s)
    parsed = feishu.parse(event)
    if encrypted:  # keep the decrypted event for audit: the ciphertext is unreadable without the key
        parsed = Parsed(parsed.events, parsed.ignored, group_id=parsed.group_id, audit_body=orjson.dumps(event))
    outcome = await _accept(request, "feishu", "feishu", body, "verified" if token else "not_configured", parsed)
    return _answer(outcome, 200)  # Feishu wants HTTP 200 within 3 s


#: Platform callbacks whose only input is the request: served by ``fastpath.WebhookFastPath``.
WEBHOOKS = (ingest_onebot, ingest_dingtalk, ingest_dingtalk_events, wecom_callback, ingest_feishu)


@audit_router.get("/v1/events/{event_id}", response_model=EventLookup,
                  summary="事件与原始报文 / A canonical chat event and the raw receipt it came in")
async def get_event(event_id: str, request: Request, _: Auditor) -> dict[str, Any]:
    found = await run_in_threadpool(lookup, request.app.state.engine, event_id)
    if found is None:
        raise ProblemError(404, detail=f"未找到事件 / No ingested event {event_id}")
    event, receipt = found
    return {"event": event, "receipt": receipt}

