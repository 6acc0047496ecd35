"""Every error of every service answers RFC 9457 problem+json naming what went wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.common.app import build_app
from services.common.problems import MEDIA_TYPE, ProblemError, field_path
from services.common.settings import Settings

pytestmark = pytest.mark.unit


class ChatLine(BaseModel):
    group_id: str
    text: str
    time: datetime


class Batch(BaseModel):
    events: list[ChatLine]


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/batches")
    def post_batch(batch: Batch) -> dict[str, int]:
        return {"accepted": len(batch.events)}

    @router.post("/raw")
    async def post_raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.get("/sanctions/{sanction_id}")
    def get_sanction(sanction_id: str) -> dict[str, str]:
        raise ProblemError(404, detail=f"处罚 {sanction_id} 不存在 / No sanction {sanction_id}",
                           extra={"sanction_id": sanction_id})

    @router.get("/crash")
    def crash() -> None:
        raise RuntimeError("password=hunter2 in a stack frame")

    return router


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = build_app("penalties", Settings(max_body_bytes=1024), [_router()])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://qunguard.dev/problems/")
    assert " / " in body["title"], "titles are Chinese first, English second"
    return body


def test_unknown_route_is_a_404_problem_naming_the_path(client: TestClient) -> None:
    body = _is_problem(client.get("/no/such/thing"), 404)
    assert body["instance"] == "/no/such/thing"


def test_wrong_method_is_a_405_problem_with_allow_header(client: TestClient) -> None:
    response = client.get("/batches")
    _is_problem(response, 405)
    assert response.headers["allow"] == "POST"


def test_invalid_event_in_a_batch_names_the_field_path(client: TestClient) -> None:
    good = {"group_id": "wecom:研发一群", "text": "早上好", "time": "2024-03-04T09:00:00+08:00"}
    bad = {"group_id": "wecom:研发一群", "text": "收到", "time": "昨天下午"}
    body = _is_problem(client.post("/batches", json={"events": [good, good, good, bad]}), 422)
    assert body["errors"] == [{"field": "events[3].time", "message": body["errors"][0]["message"]}]


def test_missing_field_and_malformed_json_are_both_validation_problems(client: TestClient) -> None:
    body = _is_problem(client.post("/batches", json={"events": [{"text": "无群号"}]}), 422)
    assert {e["field"] for e in body["errors"]} == {"events[0].group_id", "events[0].time"}
    body = _is_problem(client.post("/batches", content=b"{not json",
                                   headers={"content-type": "application/json"}), 422)
    assert body["errors"]


def test_declared_oversized_body_is_refused_before_reading(client: TestClient) -> None:
    body = _is_problem(client.post("/raw", content=b"x" * 2048), 413)
    assert "1024" in body["detail"]


def test_streamed_body_without_length_is_cut_off_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield "群消息".encode() * 20

    _is_problem(client.post("/raw", content=chunks()), 413)


def test_body_at_the_limit_is_accepted(client: TestClient) -> None:
    assert client.post("/raw", content=b"x" * 1024).json() == {"bytes": 1024}


def test_service_refusal_keeps_its_detail_and_extension_members(client: TestClient) -> None:
    body = _is_problem(client.get("/sanctions/S-42"), 404)
    assert body["sanction_id"] == "S-42" and "S-42" in body["detail"]


def test_crash_answers_500_with_request_id_and_no_stack(client: TestClient) -> None:
    response = client.get("/crash", headers={"X-Request-ID": "req-123"})
    body = _is_problem(response, 500)
    assert body["request_id"] == "req-123" and "req-123" in body["detail"]
    assert response.headers["x-request-id"] == "req-123"
    assert "hunter2" not in response.text and "Traceback" not in response.text


def test_request_id_is_echoed_or_made_up(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"] == "abc-1"
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    unsafe = client.get("/healthz", headers={"X-Request-ID": "a\"b<script>"}).headers["x-request-id"]
    assert unsafe != "a\"b<script>"


def test_field_path_reads_like_the_json_the_caller_sent() -> None:
    assert field_path(("events", 3, "time")) == "events[3].time"
    assert field_path((0, "name")) == "[0].name"
