"""Web UI render benchmark in a real browser (Debian's Chromium, headless, through Playwright).

Serves the built UI (``frontend/dist``; run ``make frontend`` first) with a fake API on loopback
and measures, from navigation start:

* pipelines page, 1 000 pipelines in the API: the first page is shown and the main thread is idle,
  with 20 rows (what the UI asks for), 100 rows (the API's largest page) and all 1 000 rows in one
  page (a stress case the API never sends);
* a build's log with 100 000 lines (parallel stages, a service, ANSI colours): the log viewer
  shows its last step and the line count; then 300 scroll steps through the whole log, with the
  longest main-thread task (PerformanceObserver "longtask", so only tasks over 50 ms are seen).

Baselines measured in the same run: the app booting to a trivial page (its fixed cost), and a
plain server-rendered HTML table of 1 000 rows (no JavaScript). Targets (issue "Web UI"):
pipelines interactive <= 1 s, 100 k-line log open <= 2 s, no long task over 100 ms while scrolling.

    .venv/bin/python bench/ui_render.py [--repeat 3] [--pipelines 1000] [--lines 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "frontend" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SOURCE, OWNER = "github.com", "bench"
ESC = "\x1b"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".map": "application/json"}


def pipeline(index: int) -> dict[str, Any]:
    status = ["succeeded", "failed", "running", "pending", "canceled"][index % 5]
    return {
        "id": str(index),
        "repoSource": SOURCE,
        "repoOwner": OWNER,
        "repoName": f"service-{index:04d}",
        "repoBranch": "main",
        "repoRevision": f"{index:040x}",
        "buildVersion": f"1.{index % 7}.{index}",
        "buildStatus": status,
        "labels": [{"key": "team", "value": f"team-{index % 9}"}, {"key": "language", "value": "golang"}],
        "releaseTargets": [
            {
                "name": "staging",
                "actions": [],
                "activeReleases": [
                    {
                        "id": str(index),
                        "name": "staging",
                        "action": "",
                        "repoSource": SOURCE,
                        "repoOwner": OWNER,
                        "repoName": f"service-{index:04d}",
                        "releaseVersion": f"1.{index % 7}.{index}",
                        "releaseStatus": "succeeded",
                        "insertedAt": "2026-11-26T10:00:00Z",
                    }
                ],
            },
            {"name": "production", "actions": [{"name": "deploy"}, {"name": "rollback", "hideBadge": True}]},
        ],
        "commits": [{"message": f"Change number {index} to the service", "author": {"name": "Ada"}}],
        "insertedAt": "2026-11-26T10:00:00Z",
        "updatedAt": "2026-11-26T10:02:00Z",
        "lastUpdatedAt": "2026-11-26T10:02:00Z",
        "duration": 95_000_000_000,
    }


def log_lines(count: int, start: int = 1) -> list[dict[str, Any]]:
    def text(n: int) -> str:
        if n % 10 == 0:
            return f"{ESC}[32mok{ESC}[0m  github.com/bench/pkg{n % 97}  {ESC}[1m0.{n % 1000:03d}s{ESC}[0m"
        if n % 37 == 0:
            return f"{ESC}[31mFAIL{ESC}[0m TestSomething{n} expected {n} got {n + 1}"
        return f"step output line {n}: compiling package github.com/bench/module/internal/pkg{n % 211}"

    return [
        {"line": n, "timestamp": "2026-11-26T10:00:00Z", "streamType": "stdout", "text": text(n)}
        for n in range(start, start + count)
    ]


def step(name: str, lines: int, **extra: Any) -> dict[str, Any]:
    return {
        "step": name,
        "depth": extra.pop("depth", 0),
        "runIndex": 0,
        "image": {"name": "golang", "tag": "1.22", "isPulled": True, "imageSize": 300_000_000},
        "status": "SUCCEEDED",
        "duration": 12_000_000_000,
        "exitCode": 0,
        "autoInjected": False,
        "logLines": log_lines(lines),
        "nestedSteps": [],
        "services": [],
        **extra,
    }


def log_record(total: int) -> dict[str, Any]:
    injected = 30
    rest = total - injected
    build, unit, lint = int(rest * 0.6), int(rest * 0.3), int(rest * 0.05)
    service = rest - build - unit - lint
    steps = [
        step("builder-info", 20, autoInjected=True),
        step("git-clone", 10, autoInjected=True),
        step("build", build),
        step(
            "test",
            0,
            nestedSteps=[step("unit", unit, depth=1), step("lint", lint, depth=1)],
            services=[step("postgres", service, depth=1)],
        ),
    ]
    return {"id": "1", "insertedAt": "2026-11-26T10:00:00Z", "steps": steps}


class FakeApi:
    """The few API answers the measured pages need, as pre-encoded JSON."""

    def __init__(self, pipelines: int, lines: int) -> None:
        self.pipelines = [pipeline(i) for i in range(pipelines)]
        self.lines = lines
        # Rows per page regardless of what the UI asks (None: as asked, 20).
        self.force_size: int | None = None

    @cache  # noqa: B019 - one instance per run
    def log_json(self) -> bytes:
        return json.dumps(log_record(self.lines)).encode()

    def answer(self, path: str, query: dict[str, list[str]]) -> Any:
        if path == "/api/me":
            return {"username": "bench", "name": "Bench"}
        if path == "/api/pipelines":
            number = int(query.get("page[number]", ["1"])[0])
            size = self.force_size or int(query.get("page[size]", ["20"])[0])
            items = self.pipelines[(number - 1) * size : number * size]
            total_pages = -(-len(self.pipelines) // size)
            return {
                "items": items,
                "pagination": {
                    "page": number,
                    "size": size,
                    "totalPages": total_pages,
                    "totalItems": len(self.pipelines),
                },
            }
        prefix = f"/api/pipelines/{SOURCE}/{OWNER}/service-0001"
        if path == prefix:
            return self.pipelines[1]
        if path == f"{prefix}/builds/1":
            return {**self.pipelines[1], "id": "1", "buildStatus": "succeeded"}
        if path == f"{prefix}/builds":
            builds = [
                {
                    **self.pipelines[i],
                    "id": str(i),
                    "repoName": "service-0001",
                    "repoBranch": ["main", "feature"][i % 2],
                }
                for i in range(1, 7)
            ]
            return {"items": builds, "pagination": {"page": 1, "size": 50, "totalPages": 1, "totalItems": len(builds)}}
        return None


def make_handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    index_html = (DIST / "index.html").read_bytes()
    static_table = (
        "<!doctype html><title>baseline</title><table>"
        + "".join(
            f"<tr><td><a href='#'>{p['repoOwner']}/{p['repoName']}</a></td><td>{p['buildVersion']}</td>"
            f"<td>{p['buildStatus']}</td><td>{p['commits'][0]['message']}</td></tr>"
            for p in api.pipelines
        )
        + "</table><p id=done>done</p>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def send(self, body: bytes, content_type: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            path = url.path
            if path == "/baseline-table":
                return self.send(static_table, "text/html; charset=utf-8")
            if path.endswith("/logs") and path.startswith("/api/"):
                return self.send(api.log_json(), "application/json")
            if path.startswith("/api/"):
                body = api.answer(path, parse_qs(url.query))
                if body is None:
                    return self.send(b'{"code":"Not Found","message":"not in the bench"}', "application/json", 404)
                return self.send(json.dumps(body).encode(), "application/json")
            file = (DIST / path.lstrip("/")).resolve()
            if path != "/" and file.is_file() and DIST in file.parents:
                return self.send(file.read_bytes(), CONTENT_TYPES.get(file.suffix, "application/octet-stream"))
            return self.send(index_html, "text/html; charset=utf-8")

    return Handler


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # The browser drops requests it no longer needs (a navigation cancels a pending fetch).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(api: FakeApi) -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), make_handler(api))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


# Installed before any page script: collects long tasks from navigation start on.
OBSERVE_LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
}).observe({ type: 'longtask', buffered: true });
"""

# Resolves once the condition holds, with the time (ms since navigation start) it first held.
WHEN = (
    "(condition) => new Promise((resolve) => {"
    " const check = () => condition() ? resolve(performance.now()) : requestAnimationFrame(check); check(); })"
)


def settle(page: Any, quiet_ms: int = 300) -> float:
    """Waits until no long task happened for ``quiet_ms``; returns when the last long task ended."""
    page.wait_for_timeout(quiet_ms)
    tasks = page.evaluate("window.__longTasks")
    return max((task["start"] + task["duration"] for task in tasks), default=0.0)


def measure_pipelines(page: Any, base: str, expected_rows: int) -> dict[str, float]:
    page.goto(f"{base}/pipelines", wait_until="commit")
    shown = page.evaluate(
        f"({WHEN})(() => document.querySelectorAll('.pipelines-table tbody tr').length === {expected_rows})"
    )
    last_long_task_end = settle(page)
    tasks = page.evaluate("window.__longTasks")
    # The page answers input: choosing a status filter puts it in the address (measured in the
    # page, from the change event to the next frame after the URL changed).
    reacted = page.evaluate(
        """() => new Promise((resolve) => {
          const select = [...document.querySelectorAll('label.field')]
            .find((label) => label.textContent.trim().startsWith('Status')).querySelector('select');
          const started = performance.now();
          select.value = 'failed';
          select.dispatchEvent(new Event('change', { bubbles: true }));
          const check = () => location.search.includes('status=failed')
            ? resolve(performance.now() - started) : requestAnimationFrame(check);
          requestAnimationFrame(check);
        })"""
    )
    return {
        "rows_shown_ms": shown,
        "interactive_ms": max(shown, last_long_task_end),
        "longest_task_ms": max((t["duration"] for t in tasks), default=0.0),
        "filter_reaction_ms": reacted,
    }


def measure_log(page: Any, base: str, lines: int) -> dict[str, float]:
    page.goto(f"{base}/pipelines/{SOURCE}/{OWNER}/service-0001/builds/1/logs", wait_until="commit")
    opened = page.evaluate(
        f"({WHEN})(() => document.querySelector('.build-log-count')?.textContent === '{lines} lines'"
        " && document.querySelectorAll('.log-line').length > 0)"
    )
    last_long_task_end = settle(page)
    open_tasks = page.evaluate("window.__longTasks.length")
    scroll = page.evaluate(
        """async () => {
          const viewport = document.querySelector('.log-viewport');
          const steps = 300;
          const frames = [];
          const before = window.__longTasks.length;
          for (let i = 1; i <= steps; i++) {
            const t0 = performance.now();
            viewport.scrollTop = (viewport.scrollHeight - viewport.clientHeight) * i / steps;
            await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
            frames.push(performance.now() - t0);
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
          const tasks = window.__longTasks.slice(before);
          const rendered = document.querySelectorAll('.log-line').length;
          frames.sort((a, b) => a - b);
          return {
            longest_task: Math.max(0, ...tasks.map((t) => t.duration)),
            long_tasks: tasks.length,
            p95_frame: frames[Math.floor(frames.length * 0.95)],
            rendered,
          };
        }"""
    )
    return {
        "open_ms": opened,
        "settled_ms": max(opened, last_long_task_end),
        "long_tasks_while_opening": open_tasks,
        "scroll_longest_task_ms": scroll["longest_task"],
        "scroll_long_tasks": scroll["long_tasks"],
        "scroll_p95_step_ms": scroll["p95_frame"],
        "rows_in_dom": scroll["rendered"],
    }


def measure_baselines(page: Any, base: str) -> dict[str, float]:
    page.goto(f"{base}/baseline-table", wait_until="commit")
    table = page.evaluate(f"({WHEN})(() => document.getElementById('done') !== null)")
    page.goto(f"{base}/no-such-page", wait_until="commit")
    boot = page.evaluate(f"({WHEN})(() => document.querySelector('h1')?.textContent === 'Page not found')")
    return {"static_table_1k_ms": table, "app_boot_ms": boot}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()

    if not (DIST / "index.html").is_file():
        print("frontend/dist is missing: run `make frontend` first.", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    api = FakeApi(args.pipelines, args.lines)
    print(f"preparing {args.lines} log lines and {args.pipelines} pipelines…", flush=True)
    api.log_json()
    sizes = {"pipelines_20": None, "pipelines_100": 100, "pipelines_all": args.pipelines}
    results: dict[str, list[dict[str, float]]] = {"baseline": [], "log": [], **{name: [] for name in sizes}}
    with serve(api) as base, sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1366, "height": 900},
        )
        try:
            for run in range(1, args.repeat + 1):
                print(f"run {run}/{args.repeat}…", flush=True)
                page = browser.new_page()
                page.add_init_script(OBSERVE_LONG_TASKS)
                results["baseline"].append(measure_baselines(page, base))
                for name, size in sizes.items():
                    api.force_size = size
                    results[name].append(measure_pipelines(page, base, size or 20))
                api.force_size = None
                results["log"].append(measure_log(page, base, args.lines))
                page.close()
        finally:
            browser.close()

    def median(group: str, key: str) -> float:
        return statistics.median(result[key] for result in results[group])

    boot = median("baseline", "app_boot_ms")
    table = median("baseline", "static_table_1k_ms")
    print()
    print(f"median of {args.repeat} runs, ms since navigation start (Chromium headless, 1366x900, loopback):")
    print(f"  baseline: app boots to a trivial page       {boot:8.0f}")
    print(f"  baseline: static HTML table of {args.pipelines} rows   {table:8.0f}")
    for group, size in sizes.items():
        rows = size or 20
        interactive = median(group, "interactive_ms")
        print(
            f"  pipelines page, {args.pipelines} pipelines, {rows:4d} rows shown:"
            f" shown {median(group, 'rows_shown_ms'):6.0f}"
            f"  interactive {interactive:6.0f} (target <= 1000; {interactive / boot:.1f}x app boot,"
            f" {interactive / table:.1f}x static table)  longest task {median(group, 'longest_task_ms'):4.0f}"
            f"  filter change -> new URL {median(group, 'filter_reaction_ms'):4.0f}"
        )
    opened = median("log", "open_ms")
    print(
        f"  build log, {args.lines} lines: open {opened:6.0f}  settled {median('log', 'settled_ms'):6.0f}"
        f" (target <= 2000; {opened / boot:.1f}x app boot)  long tasks while opening"
        f" {median('log', 'long_tasks_while_opening'):.0f}"
    )
    print(
        f"  build log scroll, 300 steps end to end: longest task {median('log', 'scroll_longest_task_ms'):4.0f}"
        f" (target < 100; 0 = none over 50)  long tasks {median('log', 'scroll_long_tasks'):.0f}"
        f"  p95 step {median('log', 'scroll_p95_step_ms'):4.0f}  rows in DOM {median('log', 'rows_in_dom'):.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
