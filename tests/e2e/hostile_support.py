"""Shared helpers of the hostile-input tests: apps on throwaway storage, one token per role, a fuzzer.

Why in-process: the property-based fuzzer sends thousands of requests; over ASGI in the same process
they cost milliseconds each and need no ports, and the app is the exact one ``qg up`` serves
(``services.<svc>.api.create_app``) with its real lifespan (SQLite file + embedded event log).

The fuzzer is schemathesis (generation from each service's own ``/openapi.json``) driven by
Hypothesis with a fixed budget and ``derandomize=True``: the same examples every run, so a failure
seen in CI reproduces on a laptop. Every failing example is kept (not only the first), with a curl
command to replay it against a running service.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.errors import SerializationNotPossible
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python import asgi as schemathesis_asgi

from services.common.auth import ROLES, hash_token
from services.common.settings import SERVICES, Settings

REPO = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"
SCIM_JSON = "application/scim+json"

# Checks run on every fuzzed response, and why each one is on:
# - not_a_server_error: hostile input must never reach an unhandled path (5xx).
# - response_schema_conformance: every answer's body matches the schema its OpenAPI document gives
#   for that status and media type (2xx bodies and the problem+json error bodies alike).
# - status_code_conformance: every status the service answers is documented (a client generated
#   from the document must not meet a status it cannot handle).
# - content_type_conformance: every answer's media type is the documented one (problem+json errors,
#   scim+json for SCIM), so clients parse by Content-Type.
# Not on: positive_data_acceptance (dummy ids rightly give 404), negative_data_rejection (raw-body
# routes such as webhooks and CSV import validate after reading bytes the schema cannot describe).
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]

# Bodies of these media types are strings on the wire; the fuzzer sends generated text as is.
schemathesis.serializer.alias(["application/x-ndjson"], "text/plain")


# -- tokens and apps ------------------------------------------------------------------------------

def token_for(role: str) -> str:
    """The bearer token of the test principal holding exactly ``role`` (clear text: tests only)."""
    return f"qg_hostile_{role.replace('-', '_')}_0123456789abcdef"


def principal_name(role: str) -> str:
    return f"hostile-{role}"


def tokens_setting(roles: Iterable[str] = sorted(ROLES)) -> str:
    """``QG_TOKENS`` holding one single-role token per role, as operators configure them (hashes)."""
    return ",".join(f"{hash_token(token_for(r))}:{r}:{principal_name(r)}" for r in roles)


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(role)}"}


def available_services() -> list[str]:
    """Services whose API module exists in this tree (a service still being written is left out)."""
    return [s for s in SERVICES if (REPO / "services" / s / "api.py").exists()]


def service_settings(data_dir: Path) -> Settings:
    """Fresh SQLite files and an embedded log under ``data_dir``; no ``.env`` and no platform secrets,
    so platform webhooks are unsigned-and-refused (401), as in a deployment that forgot a secret."""
    return Settings(_env_file=None, data_dir=data_dir, eventlog="embedded", tokens=tokens_setting(),
                    tokens_file=None, ingest_allow_unsigned=False)


def create_service_app(service: str, settings: Settings) -> FastAPI:
    return importlib.import_module(f"services.{service}.api").create_app(settings)


def stop_lifespans() -> None:
    """Close the apps schemathesis started (DB engines, log files) before their directory goes away."""
    schemathesis_asgi.shutdown_lifespans()


def header(response: Any, name: str) -> str:
    """A header of a schemathesis response (values are lists there) or of an httpx one."""
    value = response.headers.get(name, "")
    return value[0] if isinstance(value, list) and value else value or ""


# -- problem documents ----------------------------------------------------------------------------

def problem_errors(status: int, content_type: str, body: bytes, *, scim: bool = False) -> list[str]:
    """What is wrong with an error answer, by the house rule: every 4xx/5xx is RFC 9457
    problem+json with ``type``, ``title`` and the same ``status`` (SCIM routes: a SCIM Error)."""
    if status < 400:
        return []
    media = content_type.split(";")[0].strip().lower()
    wanted = (PROBLEM_JSON, SCIM_JSON) if scim else (PROBLEM_JSON,)
    if media not in wanted:
        return [f"{status} answered as {media or 'no content type'}, expected {' or '.join(wanted)}"]
    try:
        doc = json.loads(body)
    except ValueError:
        return [f"{status} {media} body is not JSON"]
    if not isinstance(doc, dict):
        return [f"{status} {media} body is not an object"]
    if media == SCIM_JSON:
        ok = doc.get("status") == str(status) and "urn:ietf:params:scim:api:messages:2.0:Error" in doc.get("schemas", [])
        return [] if ok else [f"{status} SCIM error document malformed: {doc}"]
    missing = [k for k in ("type", "title", "status") if k not in doc]
    if missing or doc.get("status") != status:
        return [f"{status} problem document malformed (missing {missing}, status {doc.get('status')!r})"]
    return []


# -- the fuzzer -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One distinct failure: which operation, which check, how to reproduce it."""

    operation: str
    mode: str
    status: int
    failure: str
    reproduce: str

    def __str__(self) -> str:
        return f"{self.operation} [{self.mode}] → {self.status}: {self.failure}\n    {self.reproduce}"


@dataclass
class FuzzReport:
    name: str
    operations: int = 0
    examples: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    not_generated: list[str] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.findings.setdefault((finding.operation, finding.mode, finding.failure), finding)

    def summary(self) -> str:
        codes = ", ".join(f"{k}×{v}" for k, v in sorted(self.statuses.items()))
        return (f"{self.name}: {self.operations} operations, {self.examples} examples in {self.seconds:.1f} s; "
                f"statuses {codes}; {len(self.findings)} findings")


def _failure_titles(exc: BaseException) -> list[str]:
    inner = getattr(exc, "exceptions", None) or [exc]
    return [getattr(e, "title", None) or f"{type(e).__name__}: {e}".splitlines()[0] for e in inner]


def _curl(case: schemathesis.Case, headers: Mapping[str, str]) -> str:
    try:
        return case.as_curl_command(headers=dict(headers))
    except Exception:  # noqa: BLE001 - a case that cannot be printed is still a finding
        return f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"


def fuzz_schema(schema: Any, *, name: str, headers: Mapping[str, str], max_examples: int,
                modes: Sequence[GenerationMode] = tuple(GenerationMode),
                extra_check: Callable[[Any, Any], list[str]] | None = None,
                select: Callable[[str], bool] = lambda label: True) -> FuzzReport:
    """Run every operation of ``schema`` (or those ``select`` keeps) in each generation mode.

    Positive mode sends valid requests (deep paths: 404s, 409s, writes); negative mode sends
    requests that break the schema (wrong types, missing fields, bad formats). No example stops the
    run: every distinct failure is collected, so one report lists them all.
    """
    report = FuzzReport(name)
    started = time.perf_counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not select(operation.label):
            continue
        report.operations += 1
        statuses = report.by_operation.setdefault(operation.label, Counter())
        for mode in modes:
            _fuzz_operation(operation, mode, report, statuses, headers, max_examples, extra_check)
    report.seconds = time.perf_counter() - started
    return report


def _fuzz_operation(operation: Any, mode: GenerationMode, report: FuzzReport, statuses: Counter[int],
                    headers: Mapping[str, str], max_examples: int,
                    extra_check: Callable[[Any, Any], list[str]] | None) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=dict(headers))
        report.examples += 1
        report.statuses[response.status_code] += 1
        statuses[response.status_code] += 1
        failures: list[str] = []
        try:
            case.validate_response(response, checks=CHECKS, headers=dict(headers))
        except (Failure, FailureGroup) as exc:
            failures += _failure_titles(exc)
        if extra_check is not None:
            failures += extra_check(case, response)
        for failure in failures:
            report.add(Finding(operation.label, mode.value, response.status_code, failure, _curl(case, headers)))

    try:
        run()
    except Unsatisfiable:
        report.not_generated.append(f"{operation.label} [{mode.value}]: nothing to break")
    except SerializationNotPossible as exc:
        report.not_generated.append(f"{operation.label} [{mode.value}]: {exc}")


def max_examples(default: int) -> int:
    """The per-operation budget; ``QG_HOSTILE_EXAMPLES`` raises it for a deeper run by hand."""
    return int(os.environ.get("QG_HOSTILE_EXAMPLES", default))

