"""The delivery worker process: RQ's ``SimpleWorker`` with the scheduler, over a warm context.

Why ``SimpleWorker``: RQ's default worker forks a child per job, and re-importing in every child
made it 11-13 jobs/s on this machine against 166 for ``SimpleWorker`` (perf-notes.md). The fork
buys isolation from jobs that leak or hang; ours do one HTTP call with explicit connect and read
timeouts under RQ's job timeout, so the isolation is not worth a 12x slowdown, and an in-process
worker also keeps one warm connection pool to Rotor. Run more processes for more throughput.
"""

from __future__ import annotations

import logging

import redis
from rq import Queue, SimpleWorker
from rq.job import Job

from core.config import Config
from core.store import keys
from core.store.connection import connect
from core.store.jobs import ensure_drain
from workers import context, recovery

log = logging.getLogger(__name__)


# How soon a dead worker's job is noticed (workers.recovery): its started-registry entry expires
# HEARTBEAT_GRACE seconds after the job's own timeout, and every worker looks for expired entries
# every MAINTENANCE_SECONDS, waiting at most WORKER_TTL - 15 s in one blocking dequeue. With the
# 30 s job timeout that is under a minute, against RQ's defaults of about eleven.
HEARTBEAT_GRACE_SECONDS = 15
MAINTENANCE_SECONDS = 15
WORKER_TTL_SECONDS = 35


class DeliveryWorker(SimpleWorker):
    """``SimpleWorker`` with a short heartbeat: a job never outlives its timeout (RQ's death penalty
    interrupts it), so anything older than timeout + grace belongs to a dead worker."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return int(job.timeout or 0) + HEARTBEAT_GRACE_SECONDS

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        # One worker per interval sweeps (workers.recovery); the others find the key taken.
        try:
            # A drain job for what waits in the inbox, should intake have failed to queue one.
            if ensure_drain(self.connection, self.queues[0], context.current().config):
                log.info("worker: queued a drain job for the inbox")
            if self.connection.set(keys.SWEEP_LOCK, self.name, nx=True, ex=MAINTENANCE_SECONDS - 1):
                for submission_id in recovery.sweep_stranded(self.connection):
                    log.warning("submission %s had no live job; queued again", submission_id)
        except redis.RedisError as exc:  # Redis restarting: the next interval sweeps instead
            log.warning("worker: sweep skipped: %s", exc)


def run_worker(config: Config, *, burst: bool = False, name: str | None = None) -> bool:
    """Work the delivery queue until stopped (or, with ``burst``, until it is empty)."""
    delivery = context.DeliveryContext.from_config(config)
    context.install(delivery)
    connection = connect(config.redis_url)
    # Queue order is priority order: fresh leads before the deferred backlog (speed-to-lead).
    queues = [Queue(name, connection=connection) for name in (keys.DELIVERY_QUEUE, keys.BACKLOG_QUEUE)]
    worker = DeliveryWorker(
        queues,
        connection=connection,
        name=name,
        maintenance_interval=MAINTENANCE_SECONDS,
        worker_ttl=WORKER_TTL_SECONDS,
    )
    log.info("worker: delivering to %s", config.rotor_base_url)
    try:
        return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    finally:
        try:
            delivery.delivery_latency.flush(connection)  # this process's last second of figures
        except redis.RedisError as exc:
            log.warning("worker: delivery latencies not written: %s", exc)
        context.install(None)
        delivery.close()
