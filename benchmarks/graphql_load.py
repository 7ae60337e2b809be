"""The GraphQL read path under load: one uvicorn worker, concurrent clients, two phases.

    python benchmarks/graphql_load.py --seconds 20 --concurrency 32
    python benchmarks/graphql_load.py --url http://127.0.0.1:8000/graphql \\
        --tokens alice=TOKEN,bob=TOKEN,carol=TOKEN

Without `--url` it starts `socialtrading serve --demo` (one uvicorn worker) in a subprocess,
on a free loopback port and a temporary SQLite data directory (SOCIALTRADING_STORE), reads
the demo traders' tokens it prints, waits for /readyz, and stops it (SIGINT) at the end.
With `--url` it targets a running server; the demo traders' tokens then come from `--tokens`.

It seeds BTC-USD through GraphQL mutations as the demo traders (fixed client order ids, so a
rerun against the same server places nothing twice): alice bids and bob offers at 20 price
levels each, and carol trades small IOC orders against them (20 trades for the tape and the
candles). Then two phases, each `--warmup` seconds unmeasured and `--seconds` measured, with
`--concurrency` keep-alive connections spread over `--processes` client processes (separate
from the server's):

1. order_book: only `orderBook(market: "BTC-USD", depth: 20)`
2. mixed: orderBook, trades (first 20), markets, `me` with balances and open orders (as
   alice), candles, in turn

The default client speaks HTTP/1.1 over asyncio streams: a request, its response parsed
and checked, costs it ~0.1 ms of CPU, so one process uses ~0.12 of a core at 1,200 queries/s.
`--client httpx` uses httpx instead, which costs ~3 ms a request here: one process saturates
at ~260 queries/s, and enough of them take the CPU the server needs on a 2-core machine.
Every response is parsed: a non-200 status, a body that is not JSON, or any
GraphQL `errors` counts as an error. Prints one JSON object: per phase `queries_per_sec`,
`p50_ms`, `p90_ms`, `p99_ms`, `max_ms`, `errors` (and per query in the mixed phase), the
CPU the server and the clients used (cores; a client near 1.0 would mean the load generator
is the bottleneck), and top-level `queries_per_sec`, `p50_ms`, `p99_ms` of the order_book
phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
MARKET = "BTC-USD"
DEPTH = 20

ORDER_BOOK = (
    'query OrderBook { orderBook(market: "BTC-USD", depth: 20) '
    "{ bids { price quantity orders } asks { price quantity orders } } }"
)
TRADES = (
    'query Trades { trades(market: "BTC-USD", first: 20) { edges { cursor node '
    "{ id price quantity takerSide executedAt } } pageInfo { hasNextPage endCursor } } }"
)
MARKETS = (
    "query Markets { markets { symbol base quote tickSize lotSize collarTicks makerFeeBps "
    "takerFeeBps mode halted lastPrice } }"
)
ME = (
    "query Me { me { id handle kycLevel balances { asset available reserved } "
    "openOrders { id market side price openQuantity filledQuantity status } } }"
)
CANDLES = (
    'query Candles { candles(market: "BTC-USD", interval: "1m", first: 20) '
    "{ edges { node { start open high low close volume trades } } "
    "pageInfo { hasNextPage endCursor } } }"
)
PLACE_ORDER = (
    "mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { __typename "
    "... on PlaceOrderSuccess { order { id status } } ... on Rejection { code message } } }"
)

TRADERS = ("alice", "bob", "carol")
STUCK_SECONDS = 30.0


# ---------------------------------------------------------------------- the server


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalServer:
    """`socialtrading serve --demo` in a subprocess on a temporary SQLite data directory."""

    def __init__(self, log_level: str) -> None:
        self.log_level = log_level
        self.folder = Path(tempfile.mkdtemp(prefix="graphql-load-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self.tokens: dict[str, str] = {}
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._log = (self.folder / "server.log").open("w", encoding="utf-8")

    def start(self, timeout: float = 120.0) -> None:
        """Start the server; return once /readyz answers 200 and the tokens are known."""
        env = dict(os.environ)
        env["SOCIALTRADING_STORE"] = f"sqlite:///{self.folder}/events.db"
        env.pop("SOCIALTRADING_READ_STORE", None)
        command = [
            sys.executable,
            "-m",
            "socialtrading.entrypoints.cli",
            "serve",
            "--demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            self.log_level,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        ready = self.url.rsplit("/", 1)[0] + "/readyz"
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited; its log: {self.folder}/server.log")
                if time.monotonic() > deadline:
                    raise RuntimeError("the server was not ready in time")
                try:
                    if client.get(ready).status_code == 200 and set(TRADERS) <= set(self.tokens):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)

    def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            parts = line.split()
            if len(parts) == 2 and line.startswith("  "):
                self.tokens[parts[0]] = parts[1]
            else:
                self._log.write(line)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def stop(self, failed: bool = False) -> None:
        """Stop the server as Ctrl-C would (then harder), and remove its data directory."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        self._log.close()
        if failed:  # show why before the data directory goes
            log = (self.folder / "server.log").read_text(encoding="utf-8", errors="replace")
            sys.stderr.write(f"--- the server's log (last lines)\n{log[-4000:]}\n")
        shutil.rmtree(self.folder, ignore_errors=True)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- seeding


def gql(
    client: httpx.Client, url: str, query: str, variables: dict[str, Any], token: str | None
) -> dict[str, Any]:
    """POST a document that must succeed; its data."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post(url, json={"query": query, "variables": variables}, headers=headers)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    data: dict[str, Any] = body["data"]
    return data


def place(client: httpx.Client, url: str, token: str, order: dict[str, Any]) -> None:
    """Place an order (retrying while rate limited); a Rejection other than that fails."""
    for _ in range(100):
        result = gql(client, url, PLACE_ORDER, {"input": order}, token)["placeOrder"]
        if result["__typename"] == "PlaceOrderSuccess":
            return
        if result["code"] != "rate_limited":
            raise RuntimeError(f"order {order} refused: {result['code']} {result['message']}")
        time.sleep(0.1)
    raise RuntimeError("rate limited for too long")


def seed(url: str, tokens: dict[str, str]) -> dict[str, int]:
    """20 bid levels (alice), 20 ask levels (bob), 20 small trades (carol); check the book."""
    with httpx.Client(timeout=30.0) as client:
        for level in range(DEPTH):
            for trader, side, price in (
                ("alice", "BUY", 59_990 - 10 * level),
                ("bob", "SELL", 60_010 + 10 * level),
            ):
                place(
                    client,
                    url,
                    tokens[trader],
                    {
                        "market": MARKET,
                        "side": side,
                        "type": "LIMIT",
                        "price": str(price),
                        "quantity": "0.01",
                        "clientOrderId": f"graphql-load:{trader}:{side}:{level}",
                    },
                )
        for index in range(DEPTH):
            taker_side, limit = ("BUY", "60010") if index % 2 == 0 else ("SELL", "59990")
            place(
                client,
                url,
                tokens["carol"],
                {
                    "market": MARKET,
                    "side": taker_side,
                    "type": "LIMIT",
                    "price": limit,
                    "quantity": "0.0005",
                    "timeInForce": "IOC",
                    "clientOrderId": f"graphql-load:carol:{index}",
                },
            )
        book = gql(client, url, ORDER_BOOK, {}, None)["orderBook"]
        if len(book["bids"]) < DEPTH or len(book["asks"]) < DEPTH:
            raise RuntimeError(
                f"the book has {len(book['bids'])} bid and {len(book['asks'])} ask levels"
            )
        trades = gql(client, url, TRADES, {}, None)["trades"]["edges"]
        return {"bids": len(book["bids"]), "asks": len(book["asks"]), "trades": len(trades)}


# ---------------------------------------------------------------------- the clients


@dataclass(frozen=True)
class Job:
    """What one client process does."""

    url: str
    requests: tuple[tuple[str, str, str | None], ...]  # (name, query, token)
    connections: int
    first_connection: int  # to spread the connections' starting points over the requests
    start_wall: float  # time.time() at which every process starts
    warmup: float
    seconds: float
    client: str  # raw | httpx


@dataclass
class Outcome:
    """What one client process measured (latencies in seconds, by request name)."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_sample: str | None = None
    stuck: bool = False  # requests were still unanswered STUCK_SECONDS after the end
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


class Recorder:
    """Collects the measured window's requests."""

    def __init__(self, outcome: Outcome, measure_from: float, measure_to: float) -> None:
        self.outcome = outcome
        self.measure_from = measure_from
        self.measure_to = measure_to

    def __call__(self, name: str, started: float, ended: float, error: str | None) -> None:
        if started < self.measure_from or ended > self.measure_to:
            return
        if error is None:
            self.outcome.latencies.setdefault(name, []).append(ended - started)
        else:
            self.outcome.errors[name] = self.outcome.errors.get(name, 0) + 1
            if self.outcome.error_sample is None:
                self.outcome.error_sample = f"{name}: {error}"[:500]


def check(status: int, body: bytes) -> str | None:
    """None if the response is a GraphQL success, else what is wrong."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    try:
        document = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    if not isinstance(document, dict) or document.get("errors") or document.get("data") is None:
        return f"GraphQL errors: {str(document)[:300]}"
    return None


def http_request(host: str, port: int, path: str, query: str, token: str | None) -> bytes:
    """A complete keep-alive HTTP/1.1 POST of a GraphQL document."""
    body = json.dumps({"query": query}).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    closes = b"\r\nconnection: close" in lower
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        return status, await reader.readexactly(int(lower[at + 17 : end])), closes
    if b"\r\ntransfer-encoding: chunked" in lower:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, b"".join(parts), closes
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    return status, await reader.read(), True


Record = Callable[[str, float, float, str | None], None]


async def raw_connection(job: Job, index: int, until: float, record: Record) -> None:
    """One keep-alive connection sending the job's requests in turn until `until`."""
    parts = urlsplit(job.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payloads = [
        (name, http_request(host, port, parts.path or "/", query, token))
        for name, query, token in job.requests
    ]
    turn = index
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    try:
        while time.perf_counter() < until:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(host, port)
            name, payload = payloads[turn % len(payloads)]
            turn += 1
            started = time.perf_counter()
            try:
                writer.write(payload)
                status, body, closes = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                record(name, started, time.perf_counter(), f"{type(error).__name__}: {error}")
                writer.close()
                writer = reader = None
                continue
            ended = time.perf_counter()
            record(name, started, ended, check(status, body))
            if closes:
                writer.close()
                writer = reader = None
    finally:
        if writer is not None:
            writer.close()


async def httpx_connection(
    job: Job, client: httpx.AsyncClient, index: int, until: float, record: Record
) -> None:
    """One httpx client task sending the job's requests in turn until `until`."""
    requests = [
        (name, json.dumps({"query": query}).encode(), token) for name, query, token in job.requests
    ]
    turn = index
    while time.perf_counter() < until:
        name, body, token = requests[turn % len(requests)]
        turn += 1
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            response = await client.post(job.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            record(name, started, time.perf_counter(), f"{type(error).__name__}: {error}")
            continue
        record(name, started, time.perf_counter(), check(response.status_code, response.content))


async def run_job(job: Job) -> Outcome:
    outcome = Outcome()
    start = time.perf_counter() + (job.start_wall - time.time())
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    measure_from = start + job.warmup
    until = measure_from + job.seconds
    record = Recorder(outcome, measure_from, until)
    cpu, wall = time.process_time(), time.perf_counter()
    indexes = range(job.first_connection, job.first_connection + job.connections)
    # A stuck server must not stall the run: give up on whatever is in flight this late.
    limit = until - time.perf_counter() + STUCK_SECONDS
    try:
        if job.client == "httpx":
            limits = httpx.Limits(max_connections=job.connections, max_keepalive_connections=None)
            async with httpx.AsyncClient(limits=limits, timeout=STUCK_SECONDS) as client:
                await asyncio.wait_for(
                    asyncio.gather(
                        *(httpx_connection(job, client, i, until, record) for i in indexes)
                    ),
                    limit,
                )
        else:
            await asyncio.wait_for(
                asyncio.gather(*(raw_connection(job, i, until, record) for i in indexes)), limit
            )
    except TimeoutError:
        outcome.stuck = True
    outcome.cpu_seconds = time.process_time() - cpu
    outcome.wall_seconds = time.perf_counter() - wall
    return outcome


def client_process(job: Job) -> Outcome:
    """Entry point of a client process."""
    return asyncio.run(run_job(job))


# ---------------------------------------------------------------------- phases


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    ms = 1000.0
    return {
        "queries": len(ordered),
        "queries_per_sec": round(len(ordered) / seconds, 1),
        "p50_ms": round(percentile(ordered, 0.50) * ms, 2),
        "p90_ms": round(percentile(ordered, 0.90) * ms, 2),
        "p99_ms": round(percentile(ordered, 0.99) * ms, 2),
        "max_ms": round(ordered[-1] * ms, 2) if ordered else math.nan,
        "errors": errors,
    }


def run_phase(
    args: argparse.Namespace,
    url: str,
    requests: tuple[tuple[str, str, str | None], ...],
    server_pid: int | None,
) -> dict[str, Any]:
    """Run one phase over the client processes; its figures."""
    processes = max(1, min(args.processes, args.concurrency))
    start_wall = time.time() + 2.0  # leaves the client processes time to start
    jobs = []
    first = 0
    for n in range(processes):
        connections = args.concurrency // processes + (n < args.concurrency % processes)
        jobs.append(
            Job(
                url=url,
                requests=requests,
                connections=connections,
                first_connection=first,
                start_wall=start_wall,
                warmup=args.warmup,
                seconds=args.seconds,
                client=args.client,
            )
        )
        first += connections
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [pool.submit(client_process, job) for job in jobs]
        server_cpu: float | None = None
        if server_pid is not None:
            time.sleep(max(0.0, start_wall + args.warmup - time.time()))
            before = cpu_seconds(server_pid)
            time.sleep(max(0.0, start_wall + args.warmup + args.seconds - time.time()))
            after = cpu_seconds(server_pid)
            if before is not None and after is not None:
                server_cpu = round((after - before) / args.seconds, 2)
        bound = start_wall - time.time() + args.warmup + args.seconds + STUCK_SECONDS + 60
        outcomes = [future.result(timeout=max(bound, 1.0)) for future in futures]

    everything: list[float] = []
    errors = 0
    names = list(dict.fromkeys(name for name, _, _ in requests))
    by_query: dict[str, dict[str, Any]] = {}
    for name in names:
        latencies = [x for outcome in outcomes for x in outcome.latencies.get(name, [])]
        failed = sum(outcome.errors.get(name, 0) for outcome in outcomes)
        everything += latencies
        errors += failed
        by_query[name] = summary(latencies, failed, args.seconds)
    result = summary(everything, errors, args.seconds)
    result["server_cpu_cores"] = server_cpu
    result["client_cpu_cores"] = [
        round(outcome.cpu_seconds / outcome.wall_seconds, 2) for outcome in outcomes
    ]
    if any(outcome.stuck for outcome in outcomes):
        result["stuck"] = f"requests unanswered {STUCK_SECONDS:.0f} s after the phase ended"
    samples = [outcome.error_sample for outcome in outcomes if outcome.error_sample]
    if samples:
        result["error_sample"] = samples[0]
    if len(names) > 1:
        result["by_query"] = by_query
    return result


def parse_tokens(text: str) -> dict[str, str]:
    tokens = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        handle, _, token = item.partition("=")
        tokens[handle.strip()] = token.strip()
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds a phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=32, help="connections in flight")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--url", help="a running server's /graphql (default: start one)")
    parser.add_argument("--tokens", default="", help="with --url: alice=T,bob=T,carol=T")
    parser.add_argument("--no-seed", action="store_true", help="do not place seed orders")
    parser.add_argument(
        "--server-log-level", default="info", help="the started server's uvicorn --log-level"
    )
    args = parser.parse_args()

    server: LocalServer | None = None
    try:
        if args.url:
            url, tokens = args.url, parse_tokens(args.tokens)
            missing = [handle for handle in TRADERS if handle not in tokens]
            if missing:
                parser.error(f"--tokens lacks {', '.join(missing)}")
        else:
            server = LocalServer(args.server_log_level)
            server.start()
            url, tokens = server.url, server.tokens
        host = urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            parser.error("the benchmark only targets loopback servers")
        seeded = None if args.no_seed else seed(url, tokens)
        pid = server.pid if server is not None else None
        order_book = run_phase(args, url, (("orderBook", ORDER_BOOK, None),), pid)
        mixed = run_phase(
            args,
            url,
            (
                ("orderBook", ORDER_BOOK, None),
                ("trades", TRADES, None),
                ("markets", MARKETS, None),
                ("me", ME, tokens["alice"]),
                ("candles", CANDLES, None),
            ),
            pid,
        )
    except BaseException:
        if server is not None:
            server.stop(failed=True)
        raise
    if server is not None:
        server.stop()

    report = {
        "benchmark": "graphql_load",
        "server": "started: serve --demo, 1 uvicorn worker, SQLite" if server else url,
        "client": args.client,
        "client_processes": max(1, min(args.processes, args.concurrency)),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "cpus": os.cpu_count(),
        "seeded": seeded,
        "queries_per_sec": order_book["queries_per_sec"],
        "p50_ms": order_book["p50_ms"],
        "p99_ms": order_book["p99_ms"],
        "phases": {"order_book": order_book, "mixed": mixed},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
