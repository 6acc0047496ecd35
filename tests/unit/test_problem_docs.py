"""The OpenAPI documents say what the services answer on errors: problem+json, 401/403 when secured."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.common.app import build_app
from services.common.auth import Principal, require
from services.common.problem_docs import SCHEMA_NAME
from services.common.problems import MEDIA_TYPE
from services.common.settings import Settings

pytestmark = pytest.mark.unit
PROBLEM = {MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}}}


class Appeal(BaseModel):
    grounds: str


def _doc() -> dict[str, Any]:
    router = APIRouter(prefix="/v1")

    @router.post("/appeals")
    def file_appeal(body: Appeal, _: Annotated[Principal, Depends(require("hr"))]) -> dict[str, str]:
        return {"grounds": body.grounds}

    @router.get("/scim-like", responses={"4XX": {"description": "own errors",
                                                 "content": {"application/scim+json": {}}}})
    def scim_like(_: Annotated[Principal, Depends(require("hr"))]) -> dict[str, str]:
        return {}

    return build_app("toy", Settings(_env_file=None), [router]).openapi()


def test_secured_operation_documents_401_and_403_as_problem_json() -> None:
    responses = _doc()["paths"]["/v1/appeals"]["post"]["responses"]
    assert responses["401"]["content"] == PROBLEM
    assert responses["403"]["content"] == PROBLEM


def test_validation_errors_are_documented_as_problem_json_not_fastapis_shape() -> None:
    doc = _doc()
    assert doc["paths"]["/v1/appeals"]["post"]["responses"]["422"]["content"] == PROBLEM
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["schemas"][SCHEMA_NAME]["required"] == ["type", "title", "status"]


def test_every_operation_documents_4xx_and_5xx_problems_and_public_ones_no_401() -> None:
    paths = _doc()["paths"]
    healthz = paths["/healthz"]["get"]["responses"]
    assert "401" not in healthz and healthz["4XX"]["content"] == PROBLEM and healthz["5XX"]["content"] == PROBLEM


def test_an_operation_with_its_own_error_shape_keeps_it() -> None:
    responses = _doc()["paths"]["/v1/scim-like"]["get"]["responses"]
    assert responses["4XX"]["content"] == {"application/scim+json": {}}
    assert responses["401"]["content"] == PROBLEM  # auth refusals come from the shared guard


def test_documenting_twice_changes_nothing() -> None:
    app = build_app("toy", Settings(_env_file=None), [])
    assert app.openapi() == app.openapi()
