#!/usr/bin/env python3
"""What continuous profiling costs a real service: the web_service example, the same
release binary run alternately with profiling off (PROFILED_ENABLED=false) and on
(production settings plus a scraper doing what Grafana Alloy does by default every
15 s), each run loaded by wrk at a fixed number of connections for a fixed time.

Prints every run, then one Markdown table with the median of the per-pair ratios
(requests/s on/off, p50 and p99 latency on/off) and the median RSS difference, for
BENCHMARKS.md's "Whole service" section.

    cargo build --release --example web_service
    python3 scripts/whole_service.py                 # every row, 5 pairs of 30 s runs
    python3 scripts/whole_service.py --pairs 3 --seconds 20 --rows production

Needs wrk (Debian package wrk). Loopback only.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "examples", "web_service")
LUA = os.path.join(ROOT, "scripts", "web_service.lua")

PRODUCTION = {
    "PROFILED_MUTEX_FRACTION": "10",
    "PROFILED_BLOCK_RATE": "100000",
    "PROFILED_ENABLE_FUNCTION_PROFILING": "true",
}
EVERY_RATE_1 = {
    "PROFILED_MUTEX_FRACTION": "1",
    "PROFILED_BLOCK_RATE": "1",
    "PROFILED_MEM_PROFILE_RATE": "1",
    "PROFILED_ENABLE_FUNCTION_PROFILING": "true",
}
# name: (profiling settings, server worker threads, distinct call stacks)
ROWS = {
    "production": (PRODUCTION, 2, 10),
    "production-1-worker": (PRODUCTION, 1, 10),
    "production-5000-stacks": (PRODUCTION, 2, 5000),
    "every-rate-1": (EVERY_RATE_1, 2, 10),
}
# Alloy's pyroscope.scrape defaults: every 15 s, each target on its own.
ALLOY_TARGETS = [
    "/debug/pprof/profile?seconds=14",
    "/debug/pprof/allocs",
    "/debug/pprof/block",
    "/debug/pprof/mutex",
    "/debug/pprof/goroutine",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout} s")


class Scraper(threading.Thread):
    """Alloy's default schedule against the profiler: every 15 s, every target."""

    def __init__(self, base):
        super().__init__(daemon=True)
        self.base = base
        self.stop = threading.Event()
        self.failures = []
        self.scrapes = 0

    def fetch(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=24) as r:
                body = r.read()
                if r.status != 200 or not body.startswith(b"\x1f\x8b"):
                    self.failures.append(f"{path}: {r.status}")
                self.scrapes += 1
        except OSError as e:
            self.failures.append(f"{path}: {e}")

    def run(self):
        while not self.stop.is_set():
            round_start = time.time()
            threads = [threading.Thread(target=self.fetch, args=(p,)) for p in ALLOY_TARGETS]
            for t in threads:
                t.start()
            self.stop.wait(max(0.0, 15 - (time.time() - round_start)))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def latency_ms(text, label):
    m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        raise SystemExit(f"no {label} latency in wrk output:\n{text}")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def one_run(on, settings, workers, stacks, args):
    app_port, prof_port = free_port(), free_port()
    env = dict(os.environ)
    env.update({"PROFILED_LISTEN_ADDR": f"127.0.0.1:{prof_port}"})
    if on:
        env.update(settings)
        env["PROFILED_ENABLED"] = "true"
    else:
        env["PROFILED_ENABLED"] = "false"
    server = subprocess.Popen(
        [BINARY, "--addr", f"127.0.0.1:{app_port}", "--workers", str(workers), "--stacks", str(stacks)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        app = f"http://127.0.0.1:{app_port}"
        wait_for(app + "/health")
        scraper = None
        if on:
            wait_for(f"http://127.0.0.1:{prof_port}/debug/pprof/")
            scraper = Scraper(f"http://127.0.0.1:{prof_port}")
        wrk = ["wrk", "-t1", f"-c{args.connections}", "--latency", "-s", LUA]
        subprocess.run(wrk + ["-d3s", app], check=True, capture_output=True)  # warm-up
        if scraper:
            scraper.start()
        out = subprocess.run(wrk + [f"-d{args.seconds}s", app], check=True, capture_output=True, text=True).stdout
        rss = rss_kib(server.pid)
        if scraper:
            scraper.stop.set()
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return {
            "rps": rps,
            "p50": latency_ms(out, "50%"),
            "p99": latency_ms(out, "99%"),
            "rss_kib": rss,
            "errors": int(errors.group(1)) if errors else 0,
            "scrape_failures": len(scraper.failures) if scraper else 0,
            "scrapes": scraper.scrapes if scraper else 0,
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=30, help="wrk duration of each run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated: " + ", ".join(ROWS))
    args = parser.parse_args()
    if not os.path.isfile(BINARY):
        raise SystemExit(f"{BINARY} missing: cargo build --release --example web_service")
    table = []
    for row in args.rows.split(","):
        settings, workers, stacks = ROWS[row]
        ratios = {"rps": [], "p50": [], "p99": [], "rss": []}
        for pair in range(args.pairs):
            off = one_run(False, settings, workers, stacks, args)
            on = one_run(True, settings, workers, stacks, args)
            print(f"{row} pair {pair + 1}: off {off}  on {on}", flush=True)
            if on["errors"] or off["errors"] or on["scrape_failures"]:
                print(f"  warning: errors in this pair", file=sys.stderr)
            ratios["rps"].append(on["rps"] / off["rps"])
            ratios["p50"].append(on["p50"] / off["p50"])
            ratios["p99"].append(on["p99"] / off["p99"])
            ratios["rss"].append((on["rss_kib"] - off["rss_kib"]) / 1024)
        table.append((row, workers, stacks, {k: statistics.median(v) for k, v in ratios.items()}, ratios))
    print()
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.pairs} pairs (off, on) per row, median of per-pair ratios")
    print()
    print("| row | workers | stacks | requests/s on/off | p50 on/off | p99 on/off | RSS on - off |")
    print("|---|---|---|---|---|---|---|")
    for row, workers, stacks, med, all_ratios in table:
        spread = f"{min(all_ratios['rps']):.3f}-{max(all_ratios['rps']):.3f}"
        print(
            f"| {row} | {workers} | {stacks} | **{med['rps']:.3f}** ({spread}) | {med['p50']:.3f} | "
            f"**{med['p99']:.3f}** | {med['rss']:+.1f} MiB |"
        )


if __name__ == "__main__":
    main()
