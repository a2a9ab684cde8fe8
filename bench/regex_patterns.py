"""Benchmark: user-supplied patterns on the old translation to Python's ``re`` against RE2 (issue 18).

For each catastrophic pattern and input length, the old evaluation (the Go-to-``re`` translation the manifest
library used before, kept here only as the baseline) runs in a child process that is killed at the cutoff, since a
backtracking match cannot be interrupted; RE2 (``builder.manifest.regex.filter_match``) runs in this process, on
the same input and on one of 100,000 characters. Ordinary filters on ordinary branches show the per-call cost on the
trigger path, where RE2 must not be much slower than ``re``.

    .venv/bin/python bench/regex_patterns.py [--cutoff SECONDS] [--lengths 16,20,24,28]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.manifest.regex import filter_match

# The old evaluation, as builder/manifest/regex.py had it: RE2 spellings translated, then Python's backtracking re.
OLD_RE = r"""
import re, sys, time
POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "digit": "0-9", "word": "0-9A-Za-z_", "space": "\\t\\n\\v\\f\\r "}
def translate(pattern):
    pattern = pattern.replace("\\z", "\\Z")
    def posix(match):
        members = POSIX.get(match.group(2))
        return match.group(0) if members is None or match.group(1) else members
    return re.sub(r"\[:(\^?)([a-z]+):\]", posix, pattern)
def filter_match(pattern, value):
    compiled = re.compile(translate(f"(?:{pattern.strip()})"))
    return compiled.fullmatch(value) is not None
pattern, value, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
filter_match(pattern, "warm")
timings = []
for _ in range(runs):
    started = time.perf_counter()
    filter_match(pattern, value)
    timings.append(time.perf_counter() - started)
timings.sort()
print(timings[len(timings) // 2])
"""

# (pattern, the character repeated, the tail that makes a backtracking engine fail late)
CATASTROPHIC = [
    ("(a+)+$", "a", "!"),
    ("(a|aa)*b", "a", ""),
    ("(a*)*b", "a", ""),
    ("(.*a){20}", "a", "!"),
    ("(x+x+)+y", "x", ""),
    ("(\\w+\\s?)+$", "w", "!"),
]
ORDINARY = [
    ("master|main", "main"),
    ("!~ main", "feature/login-form"),
    ("release/[0-9]+\\.[0-9]+", "release/12.3"),
    ("[[:alpha:]]+-[[:digit:]]+", "feature-1234"),
]
LONG = 100_000


def old_seconds(pattern: str, value: str, *, runs: int, cutoff: float) -> float | None:
    """Median seconds of the old evaluation, or None when it did not finish within ``cutoff``."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", OLD_RE, pattern, value, str(runs)],
            capture_output=True,
            text=True,
            timeout=cutoff + 0.5,  # + the interpreter's start-up
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return float(result.stdout)


def re2_seconds(pattern: str, value: str, *, runs: int) -> float:
    filter_match(pattern, "warm")
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        filter_match(pattern, value)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def show(seconds: float | None, cutoff: float) -> str:
    return f"> {cutoff:g} s (cut off)" if seconds is None else f"{seconds * 1000:10.3f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoff", type=float, default=1.0, help="seconds the old evaluation may take per case")
    parser.add_argument("--lengths", default="16,20,24,28", help="input lengths for the old evaluation")
    arguments = parser.parse_args()
    lengths = [int(length) for length in arguments.lengths.split(",")]

    print(f"catastrophic patterns: old re-based evaluation (cut off at {arguments.cutoff:g} s) vs RE2, median")
    print(f"{'pattern':<14} {'length':>7}  {'old (re)':>22}  {'RE2':>13}")
    worst_re2 = 0.0
    for pattern, repeated, tail in CATASTROPHIC:
        gave_up = False
        for length in lengths:
            value = repeated * length + tail
            old = None if gave_up else old_seconds(pattern, value, runs=3, cutoff=arguments.cutoff)
            gave_up = old is None  # longer inputs only take longer
            ours = re2_seconds(pattern, value, runs=20)
            print(f"{pattern:<14} {len(value):>7}  {show(old, arguments.cutoff):>22}  {ours * 1000:10.3f} ms")
        value = repeated * LONG + tail
        ours = re2_seconds(pattern, value, runs=5)
        worst_re2 = max(worst_re2, ours)
        print(f"{pattern:<14} {len(value):>7}  {'(not tried)':>22}  {ours * 1000:10.3f} ms")

    print("\nordinary filters on ordinary branches (the trigger path's per-call cost), median of 2000")
    for pattern, value in ORDINARY:
        old = old_seconds(pattern, value, runs=2000, cutoff=10.0)
        ours = re2_seconds(pattern, value, runs=2000)
        print(f"{pattern:<28} {value:<20} old (re) {show(old, 10.0)}   RE2 {ours * 1000:8.4f} ms")

    print(f"\nworst RE2 time on {LONG:,} characters: {worst_re2 * 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
