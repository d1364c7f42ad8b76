#!/usr/bin/env python3
"""Prints criterion results as ratios over the baseline of the same group and run.

Usage: cargo bench -p profiled --bench locks && python3 scripts/bench_report.py
Reads target/criterion/<group>/<bench>/new/estimates.json (median point estimates).
The baseline of a group is its bench named "parking_lot" (or "system", "plain", "dwarf").
"""
import json
import pathlib
import sys

BASELINES = ("parking_lot", "system", "plain", "dwarf")
root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
if not root.is_dir():
    sys.exit(f"no criterion results under {root}: run cargo bench first")


def median_ns(bench_dir):
    estimates = json.loads((bench_dir / "new" / "estimates.json").read_text())
    return estimates["median"]["point_estimate"]


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.2f} ns"


print("| group | bench | median | ratio vs baseline |")
print("|---|---|---|---|")
for group in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
    benches = {p.name: median_ns(p) for p in group.iterdir() if (p / "new" / "estimates.json").is_file()}
    base_name = next((b for b in BASELINES if b in benches), None)
    base = benches.get(base_name)
    for name, ns in sorted(benches.items(), key=lambda kv: (kv[0] != base_name, kv[0])):
        ratio = "baseline" if name == base_name else (f"{ns / base:.3f}x" if base else "-")
        print(f"| {group.name} | {name} | {fmt(ns)} | {ratio} |")
