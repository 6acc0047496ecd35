"""Health, readiness and metrics endpoints behave the same in every service."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.common import metrics
from services.common.app import build_app
from services.common.settings import Settings

pytestmark = pytest.mark.unit


class _DownLog:
    def ping(self) -> None:
        raise ConnectionError("broker kafka:9092 refused")


def test_healthz_needs_no_token_and_no_dependencies() -> None:
    app = build_app("roster", Settings(), [], readiness_checks={"db": lambda: 1 / 0})
    assert TestClient(app).get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_warnings_but_stays_ready() -> None:
    def calendar() -> str:
        return "2031 年无法定节假日数据，按周末计算 / no statutory calendar for 2031"

    app = build_app("roster", Settings(), [], readiness_checks={"calendar": calendar})
    body = TestClient(app).get("/readyz").json()
    assert body["status"] == "ready"
    assert body["checks"]["calendar"]["status"] == "warn" and "2031" in body["checks"]["calendar"]["detail"]


def test_readyz_is_503_problem_naming_each_failed_check() -> None:
    app = build_app("rules", Settings(), [], readiness_checks={"policy": lambda: None})
    app.state.log = _DownLog()
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["checks"]["eventlog"]["status"] == "fail" and "refused" in body["checks"]["eventlog"]["detail"]
    assert body["checks"]["policy"] == {"status": "ok"}
    assert "eventlog" in body["detail"]


def test_metrics_expose_the_shared_counters_without_auth() -> None:
    metrics.DEAD_LETTERS.labels("rules", "qg.chat.v1", "undecodable").inc()
    response = TestClient(build_app("rules", Settings(), [])).get("/metrics")
    assert response.status_code == 200
    assert 'qg_dead_letters_total{reason="undecodable",service="rules",topic="qg.chat.v1"}' in response.text


def test_openapi_names_the_service_and_tags_ops() -> None:
    doc = TestClient(build_app("penalties", Settings(), [])).get("/openapi.json").json()
    assert doc["info"]["title"] == "Qunguard penalties"
    assert doc["paths"]["/healthz"]["get"]["tags"] == ["ops"]
