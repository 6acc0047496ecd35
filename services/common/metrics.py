"""Prometheus metrics shared by every service's API and worker (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter("qg_events_consumed_total", "Records consumed", ["service", "topic"])
PRODUCED = Counter("qg_events_produced_total", "Events published to the log", ["service", "topic"])
DUPLICATES = Counter("qg_events_duplicate_total", "Records skipped by inbox dedupe", ["service"])
DEAD_LETTERS = Counter("qg_dead_letters_total", "Records sent to the dead-letter topic",
                       ["service", "topic", "reason"])
LAG = Gauge("qg_consumer_lag", "Records not yet committed by the service's consumer group", ["service"])
OUTBOX_PENDING = Gauge("qg_outbox_pending", "Outbox rows not yet published", ["service"])
HANDLE_SECONDS = Histogram("qg_handle_seconds", "Time to handle one record (transaction included)",
                           ["service", "event_type"],
                           buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
CALENDAR_FALLBACK = Counter("qg_calendar_fallback_total",
                            "Working-calendar answers for a year with no statutory data", ["year"])
ENFORCEMENT_OUTCOMES = Counter("qg_enforcement_outcomes_total",
                               "Enforcement commands carried out on the platforms, by outcome "
                               "(succeeded | failed | unsupported)", ["platform", "action", "outcome"])
ENFORCEMENT_ATTEMPTS = Counter("qg_enforcement_attempts_total", "Platform calls made for enforcement",
                               ["platform", "action"])
