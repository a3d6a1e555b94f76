"""A compressed day of mixed traffic through the real service, counting Rotor requests and lost leads.

    .venv/bin/python -m bench.delivery_day [--people 300] [--seed 7]

Traffic: every person submits once, and 30% of all submissions are duplicates of someone already
seen: the same form again, with the phone or email formatted differently or fewer fields (a repeat
through another form adds that form's tag, which is news for Rotor and sent as an update; the tests
cover that case). Submissions are posted in waves with one burst. Rotor goes unreachable for a few
seconds mid-day (a proxy between the workers and the sandbox refuses connections). Rotor's real
daily limit is lower than the one leadgate was told, so Rotor answers RATE_LIMIT_EXCEEDED once; the
rest waits for the next day, which the benchmark then turns (sandbox ``next-day`` + ``leadgate
deferred run-now --reset-quota``). Targets: 0 lost, Rotor requests <= leads delivered + 1, requests per unique
person <= 1.05.
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.harness import Stack, free_port, wait_until
from sandbox import SANDBOX_API_KEY

SETTLED = {b"delivered", b"duplicate"}


class CuttableProxy:
    """A TCP relay to the sandbox that can refuse connections, as an unreachable Rotor does."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        assert self.listener is not None
        self.listener.close()
        for conn in self.connections:
            conn.close()
        self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                try:
                    conn.close()
                except OSError:
                    pass


def traffic(people: int, rng: random.Random) -> list[tuple[int, str, dict]]:
    """(person, form, fields) in sending order; each duplicate comes after its person's first submission."""

    def fields(n: int, variant: int) -> dict:
        phone, email = f"201555{n:04d}", f"person{n}@example.com"
        return [
            {"name": f"Person {n}", "phone": phone, "email": email, "message": "Need a quote"},
            {"name": f"Person {n}", "phone": f"({phone[:3]}) {phone[3:6]}-{phone[6:]}"},
            {"name": f"Person {n}", "email": email.upper()},
            {"name": f"Person {n}", "phone": f"+1 {phone}", "email": email, "message": "Need a quote"},
        ][variant]

    sends = [(n, "contact", fields(n, 0)) for n in range(people)]
    repeats = round(people * 0.3 / 0.7)
    for _ in range(repeats):
        n = rng.randrange(people)
        first = next(i for i, s in enumerate(sends) if s[0] == n)
        sends.insert(rng.randrange(first + 1, len(sends) + 1), (n, "contact", fields(n, rng.randrange(1, 4))))
    return sends


def statuses(stack: Stack) -> dict[bytes, int]:
    """Submissions by status, plus b"failures": transient delivery failures (the outage) over all."""
    counts: dict[bytes, int] = {}
    for key in stack.redis.scan_iter("leadgate:submission:*", count=1000):
        if key.count(b":") == 2:
            status, failures = stack.redis.hmget(key, ["status", "failures"])
            assert isinstance(status, bytes), "every stored submission has a status"
            counts[status] = counts.get(status, 0) + 1
            counts[b"failures"] = counts.get(b"failures", 0) + int(failures or 0)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sends = traffic(args.people, rng)
    rotor_limit = int(args.people * 0.9)  # Rotor's real limit: most, not all, of the day's people
    env = {
        "ROTOR_DAILY_LIMIT": str(rotor_limit + 40),
        "ROTOR_OPS_RESERVE_PERCENT": "0",
        "LEADGATE_RETRY_BASE_SECONDS": "1",
        "LEADGATE_RETRY_MAX_SECONDS": "4",
    }
    with Stack(sandbox_limit=rotor_limit, env=env) as stack:
        proxy = CuttableProxy(int(stack.sandbox_url.rsplit(":", 1)[1]))
        stack.env["ROTOR_BASE_URL"] = f"http://127.0.0.1:{proxy.port}"
        stack.web()
        stack.workers(2)
        waves = [sends[i : i + len(sends) // 12 + 1] for i in range(0, len(sends), len(sends) // 12 + 1)]
        accepted, started = 0, time.monotonic()
        with httpx.Client(base_url=stack.web_url) as http, ThreadPoolExecutor(8) as pool:
            for number, wave in enumerate(waves):
                if number == 4:
                    proxy.cut()
                if number == 7:
                    proxy.restore()
                answers = pool.map(lambda s: http.post(f"/v1/forms/{s[1]}", json=s[2]).status_code, wave)
                accepted += sum(code == 202 for code in answers)
                time.sleep(0.05 if number == 6 else 0.5)  # wave 6 runs straight into 7: a burst
        wait_until(lambda: b"queued" not in statuses(stack), timeout=120)
        outage_failures = statuses(stack)[b"failures"]
        day_one = stack.sandbox_stats()
        httpx.post(f"{stack.sandbox_url}/_sandbox/next-day").raise_for_status()
        # Rotor's day turned (its count is back to zero), so leadgate forgets its own count too.
        subprocess.run(
            [sys.executable, "-m", "leadgate", "deferred", "run-now", "--reset-quota"],
            env=stack.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: set(statuses(stack)) - {b"failures"} <= SETTLED, timeout=120)
        elapsed = time.monotonic() - started
        final, counts = stack.sandbox_stats(), statuses(stack)
        headers = {"x-api-key": SANDBOX_API_KEY, "rotor-api-version": "1.1.0"}
        leads = httpx.get(f"{stack.sandbox_url}/leads", params={"limit": 1000}, headers=headers).json()["data"]

    people = len({n for n, _, _ in sends})
    posts = final["by_endpoint"].get("POST /leads", 0)
    phones = {lead["phone"] for lead in leads}
    lost = (
        accepted - sum(counts.get(s, 0) for s in SETTLED) + sum(f"+1201555{n:04d}" not in phones for n in range(people))
    )
    rows = [
        ("submissions sent / accepted (202)", f"{len(sends)} / {accepted}"),
        ("unique people", people),
        ("duplicates in the stream", f"{len(sends) - people} ({(len(sends) - people) / len(sends):.0%})"),
        ("Rotor's daily limit / leadgate's", f"{rotor_limit} / {rotor_limit + 40}"),
        (
            "day 1: POST /leads, RATE_LIMIT_EXCEEDED",
            f"{day_one['by_endpoint'].get('POST /leads', 0)}, {day_one['rate_limited']}",
        ),
        ("delivery attempts that met the outage", outage_failures),
        ("Rotor requests, both days", posts),
        ("leads in Rotor", final["leads"]),
        ("submissions delivered / duplicate", f"{counts.get(b'delivered', 0)} / {counts.get(b'duplicate', 0)}"),
        ("leads lost", lost),
        ("requests per unique person", f"{posts / people:.3f}  (target <= 1.05)"),
        ("requests <= leads delivered + 1", f"{posts <= final['leads'] + 1}  ({posts} <= {final['leads']} + 1)"),
        ("wall time", f"{elapsed:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
