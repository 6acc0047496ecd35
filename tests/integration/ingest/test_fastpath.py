"""Webhooks on the fast path answer exactly as they would through FastAPI's router."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from services.ingest.adapters import onebot
from services.ingest.api import create_app
from services.ingest.fastpath import WebhookFastPath, endpoints_by_path
from services.ingest.routes import WEBHOOKS, ingest_generic, router
from tests.integration.ingest.helpers import ONEBOT_SECRET, dumps, make_settings

pytestmark = pytest.mark.integration


def report(message_id: int, text: str = "请各位同事周五前提交周报 📋") -> dict:
    return {"time": int(time.time()), "self_id": 3889001122, "post_type": "message", "message_type": "group",
            "sub_type": "normal", "message_id": message_id, "group_id": 738112233, "user_id": 10002,
            "message": [{"type": "text", "data": {"text": text}}], "raw_message": text,
            "sender": {"user_id": 10002, "nickname": "小李", "card": "李四-行政部", "role": "member"}}


def signed(body: bytes, secret: str = ONEBOT_SECRET) -> dict[str, str]:
    return {"X-Signature": onebot.sign(body, secret), "Content-Type": "application/json"}


REQUESTS = [
    ("accepted", "POST", dumps(report(1)), signed),
    ("duplicate", "POST", dumps(report(1)), signed),
    ("bad signature", "POST", dumps(report(2)), lambda b: signed(b, "别的密钥")),
    ("missing signature", "POST", dumps(report(3)), lambda b: {}),
    ("malformed JSON", "POST", b'{"post_type": "message",', signed),
    ("heartbeat", "POST", dumps({"time": int(time.time()), "post_type": "meta_event",
                                 "meta_event_type": "heartbeat"}), signed),
    ("over the size limit", "POST", b"x" * 3000, signed),
    ("wrong method", "GET", b"", lambda b: {}),
]


def answers(tmp_path, fast: bool) -> list[tuple[int, str, object, bool]]:
    app = create_app(make_settings(tmp_path, max_body_bytes=2048))
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not WebhookFastPath]
    out = []
    with TestClient(app) as client:
        for _, method, body, headers in REQUESTS:
            r = client.request(method, "/v1/ingest/onebot", content=body, headers=headers(body))
            answer = r.json()
            named = answer.pop("request_id", r.headers["x-request-id"]) == r.headers["x-request-id"]
            out.append((r.status_code, r.headers["content-type"], answer, named))
    return out


def test_every_kind_of_answer_is_the_same_on_the_fast_path_and_through_the_router(tmp_path):
    fast, routed = answers(tmp_path / "fast", True), answers(tmp_path / "routed", False)
    for (name, *_), a, b in zip(REQUESTS, fast, routed):
        assert a == b, name
    assert [status for status, *_ in fast] == [200, 200, 401, 401, 422, 200, 413, 405]


def test_an_endpoint_with_dependencies_is_refused_for_the_fast_path():
    # ingest_generic needs a bearer token: it must keep FastAPI's dependency
    assert set(endpoints_by_path(router.routes, WEBHOOKS)) == {
        "/v1/ingest/onebot", "/v1/ingest/dingtalk", "/v1/ingest/dingtalk/events", "/v1/ingest/wecom/callback",
        "/v1/ingest/feishu"}
    with pytest.raises(TypeError):
        endpoints_by_path(router.routes, [ingest_generic])
