"""Prometheus metrics, kept in Redis so every web and worker process (on any host) adds to the same numbers.

Counters are written by ``count`` into a pipeline the caller sends anyway (the delivery's settle;
intake's script counts with ``counter_field``), so they cost no extra round trip there; histograms
are buffered per process (``ObservationBuffer``). Gauges
(quota, queue depths, backlog, failures, paused accounts) are read from Redis when scraped.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from rq import Queue

from core.config import Config
from core.store import keys
from core.store.connection import text
from core.store.quota import QuotaLedger

COUNTERS = {
    "leadgate_submissions_total": ("Submissions stored at intake, by source and first status", ("source", "status")),
    "leadgate_deliveries_total": ("Rotor calls by account and outcome (HTTP status or error)", ("account", "outcome")),
}
HISTOGRAMS = {
    "leadgate_intake_seconds": "Intake request time, from request to answer (forms and webhooks)",
    "leadgate_delivery_seconds": "Time from intake to Rotor's 200/201",
}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)


def counter_field(name: str, **labels: str) -> str:
    """The field of ``keys.METRICS_COUNTERS`` that counts ``name`` with ``labels``."""
    return name + "|" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def count(pipe: Any, name: str, **labels: str) -> None:
    pipe.hincrby(keys.METRICS_COUNTERS, counter_field(name, **labels), 1)


def bucket(seconds: float) -> str:
    index = bisect.bisect_left(BUCKETS, seconds)
    return str(BUCKETS[index]) if index < len(BUCKETS) else "+Inf"


class ObservationBuffer:
    """One histogram's observations in this process, written to Redis at most once per ``flush_seconds``.

    For intake latency (known only once the answer is ready: one round trip per request was a
    sixteenth of intake's time, docs/benchmarks.md) and delivery latency (a worker's). What a
    process has buffered is written by its first observation after ``flush_seconds``, or when a
    web process serves a ``/metrics`` scrape or a worker stops; an idle process's last second of
    figures waits for its next observation, and a process that dies loses them.
    """

    def __init__(self, name: str, *, flush_seconds: float = 1.0) -> None:
        self.key = keys.metrics_histogram(name)
        self.flush_seconds = flush_seconds
        self._reset()

    def _reset(self) -> None:
        self.buckets: dict[str, int] = {}
        self.sum = 0.0
        self.count = 0
        self.due = time.monotonic() + self.flush_seconds

    def add(self, connection: Redis, seconds: float) -> None:
        self.buckets[bucket(seconds)] = self.buckets.get(bucket(seconds), 0) + 1
        self.sum += seconds
        self.count += 1
        if time.monotonic() >= self.due:
            self.flush(connection)

    def flush(self, connection: Redis) -> None:
        """Write what is buffered; kept for the next try if Redis does not answer."""
        if not self.count:
            return
        with connection.pipeline(transaction=False) as pipe:
            for bound, n in self.buckets.items():
                pipe.hincrby(self.key, bound, n)
            pipe.hincrbyfloat(self.key, "sum", self.sum)
            pipe.hincrby(self.key, "count", self.count)
            pipe.execute()
        self._reset()


class RedisCollector(Collector):
    def __init__(self, connection: Redis, config: Config) -> None:
        self.connection = connection
        self.config = config

    def collect(self) -> Iterator[Any]:

        yield from self._counters()
        yield from self._histograms()
        names = self.config.account_names()
        ledger = QuotaLedger(self.connection, reset_utc=self.config.quota_reset_utc)
        used = GaugeMetricFamily("leadgate_rotor_quota_used", "Rotor requests spent this quota day", labels=["account"])
        left = GaugeMetricFamily(
            "leadgate_rotor_quota_remaining", "Rotor requests left this quota day", labels=["account"]
        )
        deferred = GaugeMetricFamily(
            "leadgate_deferred", "Submissions waiting for quota or a paused account", labels=["account"]
        )
        paused = GaugeMetricFamily(
            "leadgate_account_paused", "1 while Rotor refuses the account's key", labels=["account"]
        )
        for name in names:
            status = ledger.status(name, self.config.account(name).daily_limit)
            used.add_metric([name], status.used)
            left.add_metric([name], status.remaining)
            deferred.add_metric([name], self.connection.scard(keys.account_deferred(name)))
            paused.add_metric([name], int(bool(self.connection.exists(keys.account_paused(name)))))
        yield from (used, left, deferred, paused)
        yield GaugeMetricFamily(
            "leadgate_inbox", "Fresh submissions no drain job has taken yet", value=self.connection.llen(keys.INBOX)
        )
        depth = GaugeMetricFamily("leadgate_queue_depth", "Jobs waiting in RQ", labels=["queue", "state"])
        for queue_name in (keys.DELIVERY_QUEUE, keys.BACKLOG_QUEUE):
            queue = Queue(queue_name, connection=self.connection)
            depth.add_metric([queue_name, "queued"], queue.count)
            depth.add_metric([queue_name, "scheduled"], queue.scheduled_job_registry.count)
            depth.add_metric([queue_name, "started"], queue.started_job_registry.count)
        yield depth
        yield GaugeMetricFamily(
            "leadgate_failed",
            "Failed submissions waiting for an operator",
            value=self.connection.zcard(keys.FAILED_INDEX),
        )

    def _counters(self) -> Iterator[CounterMetricFamily]:
        stored = self.connection.hgetall(keys.METRICS_COUNTERS)
        families = {
            name: CounterMetricFamily(name.removesuffix("_total"), help_, labels=list(labels))
            for name, (help_, labels) in COUNTERS.items()
        }
        for raw_field, value in stored.items():
            name, _, labels = text(raw_field).partition("|")
            if name in families:
                pairs = dict(pair.split("=", 1) for pair in labels.split(",") if pair)
                families[name].add_metric([pairs.get(label, "") for label in COUNTERS[name][1]], int(value))
        yield from families.values()

    def _histograms(self) -> Iterator[HistogramMetricFamily]:
        for name, help_ in HISTOGRAMS.items():
            stored = {text(k): float(v) for k, v in self.connection.hgetall(keys.metrics_histogram(name)).items()}
            running, buckets = 0.0, []
            for bound in (*map(str, BUCKETS), "+Inf"):
                running += stored.get(bound, 0.0)
                buckets.append((bound, running))
            yield HistogramMetricFamily(name, help_, buckets=buckets, sum_value=stored.get("sum", 0.0))
