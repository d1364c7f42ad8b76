#!/usr/bin/env python3
"""What pushing to Pyroscope costs: the contention example's CPU time with pushing
every N seconds to a loopback receiver (answering 200, decoding nothing) against the
same binary without pushing, alternating runs (off, on, off, on, ...).

    cargo build --release --example contention
    python3 scripts/push_cost.py --pairs 3 --seconds 45 --interval 15

Prints each run's process CPU seconds (utime + stime from /proc/PID/stat) and the
median of the per-pair ratios on/off. Loopback only.
"""

import argparse
import http.server
import os
import socket
import statistics
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "examples", "contention")


class Receiver(http.server.BaseHTTPRequestHandler):
    pushes = 0
    bytes = 0

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        Receiver.pushes += 1
        Receiver.bytes += length
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(push_url, seconds, interval, warmup):
    env = dict(os.environ)
    env.pop("PROFILED_PUSH_URL", None)
    if push_url:
        env["PROFILED_PUSH_URL"] = push_url
        env["PROFILED_PUSH_INTERVAL_SECONDS"] = str(interval)
        env["PROFILED_PUSH_SERVICE_NAME"] = "contention"
    proc = subprocess.Popen(
        [BINARY, "--addr", f"127.0.0.1:{free_port()}", "--seconds", str(seconds + warmup + 30)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(warmup)  # start-up, and the first round's one-off costs
        start = cpu_seconds(proc.pid)
        time.sleep(seconds)
        return cpu_seconds(proc.pid) - start
    finally:
        proc.kill()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=45)
    parser.add_argument("--interval", type=int, default=15)
    parser.add_argument(
        "--warmup",
        type=int,
        default=17,
        help="seconds before measuring: the first push round loads the symbolizer's index once",
    )
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    ratios = []
    for pair in range(args.pairs):
        off = run(None, args.seconds, args.interval, args.warmup)
        on = run(url, args.seconds, args.interval, args.warmup)
        ratios.append(on / off)
        print(f"pair {pair + 1}: off {off:.2f} s CPU, on {on:.2f} s CPU, ratio {on / off:.4f}", flush=True)
    print(f"pushes received: {Receiver.pushes}, {Receiver.bytes / max(Receiver.pushes, 1) / 1024:.1f} KiB each")
    print(f"median on/off CPU ratio over {args.pairs} pairs of {args.seconds} s: {statistics.median(ratios):.4f}")


if __name__ == "__main__":
    main()
