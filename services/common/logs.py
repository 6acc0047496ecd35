"""JSON logs, one object per line, with the request id or event id of the work being done.

Why JSON: operators ship these lines to a log store and search them by ``request_id`` (given back
to every HTTP caller) or ``event_id`` (the CloudEvents id a worker is handling), so one complaint or
one dead letter leads straight to every line about it.

Context travels in ``contextvars``: the app's request middleware binds ``request_id``; a worker binds
``event_id`` around each record with :func:`bound`. Nothing here reads the environment: call
:func:`configure` with the settings once per process (the CLI does, before serving or working).
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: ContextVar[str | None] = ContextVar("qg_request_id", default=None)
event_id_var: ContextVar[str | None] = ContextVar("qg_event_id", default=None)
principal_var: ContextVar[str | None] = ContextVar("qg_principal", default=None)

_SERVICE = {"name": "qunguard"}
_CONTEXT_VARS = {"request_id": request_id_var, "event_id": event_id_var, "principal": principal_var}
# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Bind ``request_id``/``event_id``/``principal`` for the duration of a block (nests, resets)."""
    tokens = [(_CONTEXT_VARS[k], _CONTEXT_VARS[k].set(v)) for k, v in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, service, context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": _SERVICE["name"],
        }
        for key, var in _CONTEXT_VARS.items():
            value = var.get()
            if value is not None:
                entry[key] = value
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _version, status = record.args
            entry.update(client=client, method=method, path=path, status=status)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class PlainFormatter(logging.Formatter):
    """For a developer's terminal (``QG_LOG_JSON=false``): still shows the request/event id."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v.get()}" for k, v in _CONTEXT_VARS.items() if v.get() is not None)
        base = f"{self.formatTime(record)} {record.levelname:<7} {_SERVICE['name']} {record.name}: "
        text = base + record.getMessage() + (f" [{ids}]" if ids else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def logging_config(level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """A ``dictConfig`` for our loggers and uvicorn's (so access lines come out in the same format)."""
    formatter = "json" if json else "plain"
    handler = {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": f"{__name__}.JsonFormatter"},
            "plain": {"()": f"{__name__}.PlainFormatter"},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "level": level.upper(), "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure(service: str, level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """Install the config for this process and return it (pass it to uvicorn as ``log_config``)."""
    _SERVICE["name"] = service
    config = logging_config(level, json)
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
    return config


def configure_from(settings: Any, service: str) -> dict[str, Any]:
    """:func:`configure` from a ``Settings`` (``log_level``, ``log_json``)."""
    return configure(service, settings.log_level, settings.log_json)


def service_name() -> str:
    return _SERVICE["name"]


__all__ = ["JsonFormatter", "PlainFormatter", "bound", "configure", "configure_from", "event_id_var",
           "logging_config", "principal_var", "request_id_var", "service_name"]
