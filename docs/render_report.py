"""Open the run report in headless Chromium with no network, check every chart drew, keep a picture.

Usage:
    python docs/render_report.py                  # run the pastry school with --report, check
                                                  # its report.html, save docs/report.png
    python docs/render_report.py --report FILE    # check an existing report.html only
    python docs/render_report.py --screenshot OUT # save the picture elsewhere

Chromium (Debian's ``chromium`` package, or the binary named by ``$CHROMIUM``) loads the file
with the network cut: inside an empty network namespace when ``unshare -n`` is allowed, and
always with a proxy that does not exist and a resolver that finds no host. A chart counts as
drawn when plotly.js has put its SVG into the chart's div; the page passes when every chart
div of the page has one. Exit status 0 when all drew, 1 when not, 2 when Chromium is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "pastry_school.yaml"
PICTURE = ROOT / "docs" / "report.png"
WIDTH = 1200
_OFFLINE = (
    "--proxy-server=http://127.0.0.1:9",  # nothing listens there: every request fails
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
_CHART = re.compile(r"""<div class="chart" data-chart="([\w-]+)">""")


def find_chromium() -> str | None:
    """The Chromium binary: ``$CHROMIUM``, else ``chromium`` on the PATH."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


def _isolated() -> list[str]:
    """``unshare -n`` (an empty network namespace) when this user may use it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def _chromium(chromium: str, page: Path, *args: str) -> str:
    """Load ``page`` in headless Chromium offline and give what it printed."""
    command = [
        *_isolated(),
        chromium,
        "--headless",
        "--no-sandbox",  # containers often run as root, where the sandbox cannot start
        "--disable-gpu",
        "--hide-scrollbars",
        *_OFFLINE,
        "--virtual-time-budget=15000",  # let plotly.js finish drawing before the dump
        *args,
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def charts_drawn(report: Path, chromium: str) -> dict[str, bool]:
    """Every chart of the page, and whether plotly.js drew it (its div holds an SVG)."""
    dom = _chromium(chromium, report, "--dump-dom")
    found = list(_CHART.finditer(dom))
    drawn = {}
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(dom)
        drawn[match.group(1)] = 'class="main-svg"' in dom[match.end() : end]
    return drawn


def page_height(report: Path, chromium: str) -> int:
    """The page's full height in pixels at the screenshot's width (measured on a copy)."""
    probe = (
        "<script>addEventListener('load', () => setTimeout(() => document.body.setAttribute("
        "'data-height', document.documentElement.scrollHeight), 1000));</script></body>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "measure.html"
        copy.write_text(report.read_text(encoding="utf-8").replace("</body>", probe, 1))
        dom = _chromium(chromium, copy, f"--window-size={WIDTH},900", "--dump-dom")
    found = re.search(r'data-height="(\d+)"', dom)
    return int(found.group(1)) if found else 5000


def screenshot(report: Path, out: Path, chromium: str) -> None:
    """A picture of the whole page."""
    height = page_height(report, chromium)
    out.parent.mkdir(parents=True, exist_ok=True)
    _chromium(chromium, report, f"--window-size={WIDTH},{height}", f"--screenshot={out}")


def run_report(out_dir: Path) -> Path:
    """``sim run scenarios/pastry_school.yaml --report --out DIR``; the page's path."""
    command = [sys.executable, "-m", "cli", "run", str(SCENARIO), "--report", "--out", str(out_dir)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return out_dir / "report.html"


def main() -> int:
    """Run, check and picture the report; print what was found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, help="check this report.html (no run)")
    parser.add_argument("--screenshot", type=Path, default=PICTURE, help="where the PNG goes")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        print("no chromium: apt-get install -y chromium, or set $CHROMIUM", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        report = args.report or run_report(Path(tmp))
        drawn = charts_drawn(report, chromium)
        network = "empty network namespace" if _isolated() else "proxy and resolver blocked"
        print(f"{report.name}: {report.stat().st_size:,} bytes, opened offline ({network})")
        for name, ok in drawn.items():
            print(f"  chart {name:<10} {'drawn' if ok else 'NOT DRAWN'}")
        if not drawn or not all(drawn.values()):
            print(f"{sum(drawn.values())} of {len(drawn)} charts drew", file=sys.stderr)
            return 1
        screenshot(report, args.screenshot, chromium)
        print(f"all {len(drawn)} charts drawn; screenshot {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
