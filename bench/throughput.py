"""Intake and delivery measured against this machine's own ceilings, side by side in one run.

    .venv/bin/python -m bench.throughput [--seconds 10] [--rounds 3] [--deliveries 4000] [--workers 2]

Starts its own redis-server (no persistence, as perf-notes.md measured), the Rotor sandbox, two
gunicorn servers with leadgate's settings (leadgate, and ``bench.baseline``: JSON + one RPUSH) and
the delivery workers, then prints one table (docs/benchmarks.md keeps the last one):

* intake: wrk against ``/v1/forms/contact`` and the baseline, alternating rounds; medians.
* delivery: a preloaded backlog drained by ``--workers`` worker processes, against the same
  number of processes POSTing the same Rotor bodies to the same sandbox in a plain loop.
* memory: Redis bytes per pending submission over a 10,000-submission backlog.
* end to end: intake to Rotor's 201 at a moderate steady rate, with the workers running.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from bench.harness import Stack, cpu_seconds, free_port, wait_until
from bench.load import WrkResult, lead, run_wrk
from core.config import Config
from core.store import keys
from core.store.connection import text
from sandbox import SANDBOX_API_KEY
from workers import context
from workers.deliver import Delivery

ROTOR_HEADERS = {"x-api-key": SANDBOX_API_KEY, "rotor-api-version": "1.1.0"}
UNLIMITED = {"ROTOR_DAILY_LIMIT": "10000000"}  # quota is not what this measures


def intake(stack: Stack, *, seconds: int, rounds: int) -> list[tuple[str, str]]:
    urls = {
        "baseline": stack.web("bench.baseline:create_app()", port=free_port()),
        "baseline + form schema": stack.web("bench.baseline:create_app(validating=True)", port=free_port()),
        "leadgate": stack.web(),
    }
    runs: dict[str, list[WrkResult]] = {name: [] for name in urls}
    # CPU per request of the web processes and of Redis: where a request's cost goes, on 2 cores
    # that wrk, Redis and gunicorn share.
    cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
    for url in urls.values():
        run_wrk(f"{url}/v1/forms/contact", seconds=2)  # warm-up: imports, connection pools
    for _ in range(rounds):
        for name, url in urls.items():
            web_before, redis_before = cpu_seconds(stack.web_pids[url]), cpu_seconds(stack.redis_pid)
            result = run_wrk(f"{url}/v1/forms/contact", seconds=seconds)
            web, redis_cpu = cpu_seconds(stack.web_pids[url]) - web_before, cpu_seconds(stack.redis_pid) - redis_before
            runs[name].append(result)
            cpu[name].append((web / result.requests * 1e6, redis_cpu / result.requests * 1e6))
    rows = []
    for name, results in runs.items():
        rps = statistics.median(r.requests_per_second for r in results)
        p50 = statistics.median(r.p50_ms for r in results)
        p99 = statistics.median(r.p99_ms for r in results)
        errors = sum(r.errors for r in results)
        web_us, redis_us = (statistics.median(costs) for costs in zip(*cpu[name], strict=True))
        rows.append((f"intake: {name}", f"{rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, {errors} errors"))
        rows.append((f"intake: {name}, CPU per request", f"web {web_us:,.0f} µs, Redis {redis_us:,.0f} µs"))
    for name, label in (
        ("leadgate", "leadgate / baseline (target >= 0.75)"),
        ("baseline + form schema", "baseline + form schema / baseline"),
    ):
        ratios = [
            ours.requests_per_second / base.requests_per_second
            for ours, base in zip(runs[name], runs["baseline"], strict=True)
        ]
        rows.append((f"intake: {label}", median_ratio(ratios)))
    return rows


def preload(url: str, count: int, *, first: int = 0) -> None:
    """``count`` different people through the real form endpoint, 8 at a time."""
    with httpx.Client(base_url=url) as http, ThreadPoolExecutor(8) as pool:
        people = range(first, first + count)
        bad = [
            status
            for status in pool.map(lambda n: http.post("/v1/forms/contact", json=lead(n)).status_code, people)
            if status != 202
        ]
    if bad:
        raise SystemExit(f"bench: intake refused {len(bad)} of {count} preload posts: {bad[:5]}")


def delivered_times(stack: Stack) -> tuple[list[tuple[datetime, datetime]], list[dict]]:
    """When each submission was settled (after Rotor's answer), and the Rotor bodies sent."""
    times, bodies = [], []
    for key in stack.redis.scan_iter(keys.submission("*"), count=1000):
        if key.count(b":") == 2:
            status, updated, received, body = stack.redis.hmget(key, ["status", "updated_at", "received_at", "lead"])
            if status == b"delivered" and received and updated and body:
                times.append((datetime.fromisoformat(text(received)), datetime.fromisoformat(text(updated))))
                bodies.append(json.loads(body))
    return times, bodies


def delivery(stack: Stack, *, count: int, workers: int, rounds: int) -> list[tuple[str, str]]:
    time.sleep(1)  # requests wrk left in flight finish before the slate is wiped
    worker_rates, loop_rates = [], []
    for round_ in range(rounds):  # alternating, like intake: the machine's drift hits both alike
        worker_rate, bodies = drain_backlog(stack, count=count, workers=workers, first=5_000_000 + round_ * count)
        worker_rates.append(worker_rate)
        reset_sandbox(stack)
        shares = [bodies[i::workers] for i in range(workers)]
        with multiprocessing.Pool(workers) as pool:
            spans = pool.starmap(post_loop, [(f"{stack.sandbox_url}/leads", share) for share in shares])
        loop_rates.append(len(bodies) / (max(end for _, end in spans) - min(start for start, _ in spans)))
    rate, loop_rate = statistics.median(worker_rates), statistics.median(loop_rates)
    bare_rate, one_loop_rate = delivery_without_rq(stack, count=count // 4)
    ratios = [w / loop for w, loop in zip(worker_rates, loop_rates, strict=True)]
    return [
        (f"delivery: {workers} worker processes", f"{rate:,.0f} leads/s ({count} leads a round, one POST each)"),
        (f"delivery: plain POST loop, {workers} processes", f"{loop_rate:,.0f} POSTs/s"),
        ("delivery: workers / loop (target >= 0.5)", median_ratio(ratios)),
        ("delivery: the job's own work without RQ, 1 process", f"{bare_rate:,.0f} leads/s"),
        ("delivery: plain POST loop, 1 process", f"{one_loop_rate:,.0f} POSTs/s"),
        ("delivery: without RQ / loop", f"{bare_rate / one_loop_rate:.2f}"),
    ]


def median_ratio(ratios: list[float]) -> str:
    """The median of the rounds' side-by-side ratios, and each round's."""
    return f"{statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"


def reset_sandbox(stack: Stack) -> None:
    httpx.post(f"{stack.sandbox_url}/_sandbox/reset", json={"daily_limit": 10_000_000}).raise_for_status()


def drain_backlog(stack: Stack, *, count: int, workers: int, first: int) -> tuple[float, list[dict]]:
    """``count`` leads taken in, then delivered by ``workers`` worker processes: their rate, and the bodies sent."""
    stack.redis.flushdb()
    reset_sandbox(stack)
    preload(stack.web_url, count, first=first)
    started = stack.workers(workers)
    wait_until(lambda: stack.sandbox_stats()["leads"] >= count, timeout=600)
    for process in started:
        process.terminate()
    times, bodies = delivered_times(stack)
    settled = sorted(done for _, done in times)
    return (len(settled) - 1) / (settled[-1] - settled[0]).total_seconds(), bodies


def delivery_without_rq(stack: Stack, *, count: int) -> tuple[float, float]:
    """``workers.deliver.Delivery`` run in this process, one submission after another, and the same
    bodies in a plain loop: the ceiling of delivering several submissions per RQ job."""
    stack.redis.flushdb()
    reset_sandbox(stack)
    preload(stack.web_url, count, first=8_000_000)
    ids = [
        key.decode().rsplit(":", 1)[1] for key in stack.redis.scan_iter(keys.submission("*")) if key.count(b":") == 2
    ]
    env = {name: value for name, value in stack.env.items() if name.startswith(("REDIS_", "ROTOR_", "LEADGATE_"))}
    delivery_context = context.DeliveryContext.from_config(Config.from_env(env))
    context.install(delivery_context)
    try:
        started = time.perf_counter()
        for submission_id in ids:
            Delivery(stack.redis, delivery_context, submission_id).run()
        bare_rate = len(ids) / (time.perf_counter() - started)
    finally:
        context.install(None)
        delivery_context.close()
    bodies = [json.loads(stack.redis.hget(keys.submission(submission_id), "lead") or "null") for submission_id in ids]
    reset_sandbox(stack)
    start, end = post_loop(f"{stack.sandbox_url}/leads", bodies)
    return bare_rate, len(bodies) / (end - start)


def post_loop(url: str, bodies: list[dict]) -> tuple[float, float]:
    """One process POSTing ``bodies`` one after another on one keep-alive connection."""
    with httpx.Client(headers=ROTOR_HEADERS) as http:
        started = time.time()
        for body in bodies:
            http.post(url, json=body).raise_for_status()
        return started, time.time()


def memory(stack: Stack, *, count: int = 10_000) -> list[tuple[str, str]]:
    stack.redis.flushdb()
    before = stack.redis.info("memory")["used_memory"]
    preload(stack.web_url, count, first=6_000_000)
    after = stack.redis.info("memory")["used_memory"]
    usage = sum(stack.redis.memory_usage(key, samples=0) or 0 for key in stack.redis.scan_iter(count=1000))
    return [
        (f"memory: MEMORY USAGE of all keys / {count:,} pending (target <= 3 KB)", f"{usage / count:,.0f} B"),
        ("memory: used_memory growth / pending submission", f"{(after - before) / count:,.0f} B"),
    ]


def end_to_end(stack: Stack, *, rate: int = 50, seconds: int = 20, workers: int = 2) -> list[tuple[str, str]]:
    stack.redis.flushdb()
    reset_sandbox(stack)
    started = stack.workers(workers)
    time.sleep(2)  # the workers are up and listening
    total = rate * seconds
    with httpx.Client(base_url=stack.web_url) as http:
        begin = time.monotonic()
        for n in range(total):
            time.sleep(max(0.0, begin + n / rate - time.monotonic()))
            http.post("/v1/forms/contact", json=lead(7_000_000 + n)).raise_for_status()
    wait_until(lambda: stack.sandbox_stats()["leads"] >= total, timeout=120)
    for process in started:
        process.terminate()
    latencies = sorted((done - received).total_seconds() * 1000 for received, done in delivered_times(stack)[0])
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    return [(f"end to end at {rate} leads/s: intake to Rotor's 201", f"p50 {p50:.0f} ms, p99 {p99:.0f} ms")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side of intake and delivery, alternating")
    parser.add_argument("--deliveries", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--only",
        choices=["intake", "delivery", "memory", "e2e"],
        action="append",
        help="run only these parts (repeatable); default all",
    )
    args = parser.parse_args()
    parts = set(args.only or ["intake", "delivery", "memory", "e2e"])
    rows = [
        ("machine", f"{platform.node()}, {multiprocessing.cpu_count()} cores, Python {platform.python_version()}"),
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    with Stack(sandbox_limit=10_000_000, env=UNLIMITED) as stack:
        if "intake" in parts:
            rows += intake(stack, seconds=args.seconds, rounds=args.rounds)
        else:
            stack.web()
        if "delivery" in parts:
            rows += delivery(stack, count=args.deliveries, workers=args.workers, rounds=args.rounds)
        if "memory" in parts:
            rows += memory(stack)
        if "e2e" in parts:
            rows += end_to_end(stack, workers=args.workers)
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))


if __name__ == "__main__":
    main()
