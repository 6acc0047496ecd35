"""What ``qg serve``, ``qg work``, ``qg clock`` and ``qg rebuild`` do, kept out of the typer wiring.

Service modules are found as ``<prefix>.<service>.api`` / ``.worker``; the prefix is ``services``
except in tests, which point ``QG_SERVICE_MODULE_PREFIX`` at a fake package to supervise tiny
stand-in services. Everything here imports lazily: the CLI must start fast.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from contracts.clock import ClockTicked
from services.common.settings import SERVICES
from contracts.envelope import CONTENT_TYPE, CloudEvent, new_event
from contracts.ids import derive_id
from services.common import logs

log = logging.getLogger(__name__)
DEFAULT_PREFIX = "services"
CLOCK_SOURCE = "qunguard/clock"


class ServiceModuleMissing(SystemExit):
    """The service has no such module (yet): one line for the operator, exit status 3."""


def service_module(prefix: str, service: str, part: str) -> ModuleType:
    name = f"{prefix}.{service}.{part}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            log.error("%s 不存在 / does not exist", name)
            raise ServiceModuleMissing(3) from exc
        raise


def open_event_log(settings: Any) -> Any:
    """The configured event log (embedded or Kafka), via ``services.common.eventlog.open_log``."""
    from services.common.eventlog import open_log  # type: ignore[attr-defined]

    return open_log(settings)


def serve(service: str, settings: Any, prefix: str = DEFAULT_PREFIX) -> None:
    """Run the service's API under uvicorn until SIGTERM/SIGINT (uvicorn drains then exits)."""
    import uvicorn

    config = logs.configure_from(settings, service)
    app = service_module(prefix, service, "api").create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port(service), log_config=config,
                proxy_headers=True, server_header=False)


def work(service: str, settings: Any, prefix: str = DEFAULT_PREFIX) -> None:
    """Run the service's worker until SIGTERM/SIGINT (``Worker.run`` installs the handlers)."""
    logs.configure_from(settings, f"{service}-worker")
    worker = service_module(prefix, service, "worker").build_worker(settings)
    worker.batch = settings.worker_batch
    if settings.worker_metrics_offset and service in SERVICES:
        worker.metrics_port = settings.port(service) + settings.worker_metrics_offset
        worker.metrics_addr = settings.host
    worker.run()


def rebuild(service: str, settings: Any, prefix: str = DEFAULT_PREFIX) -> Any:
    """Drop and refold the service's projections: its own ``rebuild(settings)`` if it has one."""
    logs.configure_from(settings, f"{service}-rebuild")
    module = service_module(prefix, service, "worker")
    if hasattr(module, "rebuild"):
        return module.rebuild(settings)
    return module.build_worker(settings).rebuild()


# -- the clock ticker ------------------------------------------------------------------------------
def tick_time(now: datetime, interval_s: float) -> datetime:
    """``now`` floored to the interval grid (UTC), so two tickers, or a restarted one, emit the
    same tick with the same id and consumers drop the duplicate."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = int((now.astimezone(UTC) - epoch).total_seconds() // interval_s)
    return epoch + timedelta(seconds=step * interval_s)


def tick_event(at: datetime) -> CloudEvent:
    """The ``ClockTicked`` for grid time ``at``: id ``derive_id('tick', iso time)``."""
    return new_event(ClockTicked(now=at), id=derive_id("tick", at.isoformat()), source=CLOCK_SOURCE,
                     time=at)


def run_clock(settings: Any, stop: threading.Event, *, event_log: Any = None,
              wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> int:
    """Append a tick to ``qg.clock.v1`` every ``clock_interval_s`` until ``stop``; returns ticks sent.

    The only place wall-clock time enters the system. A log outage is logged and retried at the next
    tick rather than crashing (the supervisor would only restart us into the same outage).
    """
    own = event_log is None
    event_log = event_log or open_event_log(settings)
    producer = event_log.producer()
    interval = settings.clock_interval_s
    sent, last = 0, None
    try:
        while not stop.is_set():
            at = tick_time(wall(), interval)
            failed = False
            if at != last:
                event = tick_event(at)
                try:
                    producer.publish(ClockTicked.topic.name, event.key, event.to_bytes(),
                                     headers=[("content-type", CONTENT_TYPE.encode())])
                    producer.flush()
                    sent, last = sent + 1, at
                    log.info("tick %s", at.isoformat(), extra={"event_id": event.id})
                except Exception:  # noqa: BLE001 - LogUnavailable or a broker hiccup: retry later
                    log.exception("clock tick %s not published; will retry", at.isoformat())
                    failed = True
            elapsed = (wall().astimezone(UTC) - at).total_seconds()
            wait = min(1.0, interval) if failed else interval - elapsed
            stop.wait(max(0.05, min(wait, interval)))
    finally:
        producer.close()
        if own:
            event_log.close()
    return sent
