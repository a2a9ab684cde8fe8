"""Benchmark: parse + defaults + validation of the largest corpus manifest, against plain ``yaml.safe_load``.

Target: median ≤ 5 ms for ``load_manifest``. The baseline (PyYAML's ``safe_load`` of the same text, as most
Python code would read it) is measured in the same run so the ratio is comparable across machines.

    .venv/bin/python bench/manifest_parse.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.manifest import load_manifest
from builder.manifest.tests.corpus import largest_manifest

TARGET_MS = 5.0


def median_ms(work: Callable[[], object], runs: int) -> float:
    for _ in range(max(3, runs // 10)):  # warm caches (regexes, imports) before measuring
        work()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    arguments = parser.parse_args()

    path = largest_manifest()
    text = path.read_text()
    print(f"manifest: {path.name} ({len(text)} bytes, {text.count(chr(10))} lines), {arguments.runs} runs each")

    baseline = median_ms(lambda: yaml.safe_load(text), arguments.runs)
    libyaml = median_ms(lambda: yaml.load(text, Loader=yaml.CSafeLoader), arguments.runs)
    ours = median_ms(lambda: load_manifest(text, path=path.name), arguments.runs)

    print(f"yaml.safe_load (baseline):              median {baseline:7.3f} ms")
    print(f"yaml.load with CSafeLoader (libyaml):   median {libyaml:7.3f} ms")
    print(f"load_manifest (parse+defaults+validate): median {ours:7.3f} ms  (target <= {TARGET_MS} ms)")
    print(f"ratio load_manifest / yaml.safe_load:   {ours / baseline:7.2f}x")
    print(f"ratio load_manifest / CSafeLoader load: {ours / libyaml:7.2f}x")
    print("result:", "OK" if ours <= TARGET_MS else "TOO SLOW")
    return 0 if ours <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
