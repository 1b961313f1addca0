"""Start the studio on the pastry school, open it in headless Chromium offline, keep a picture.

Usage:
    python docs/render_studio.py                   # save docs/studio.png
    python docs/render_studio.py --screenshot OUT  # save the picture elsewhere

The page is opened with every request that would leave 127.0.0.1 refused; the script
fails if any was made. It pins the scenario as written as A and raises the core course's
price, so the picture shows the comparison too. Needs the studio extra and Playwright
(``pip install -e ".[test]"``) and Debian's ``chromium`` (or the binary named by
``$CHROMIUM``). Exit status 0 when the picture was saved, 1 when the page went wrong,
2 when Chromium is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's sim, even when another is installed

from playwright.sync_api import sync_playwright  # noqa: E402

from sim.studio import create_app, make_server  # noqa: E402

SCENARIO = ROOT / "scenarios" / "pastry_school.yaml"
PICTURE = ROOT / "docs" / "studio.png"
SIZE = {"width": 1440, "height": 1000}
B_PRICE = "390"  # the core course's price in design B


def main() -> int:
    """Serve, drive the page, save the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, default=PICTURE)
    args = parser.parse_args()
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        print("no chromium found: apt-get install chromium, or set $CHROMIUM", file=sys.stderr)
        return 2
    server = make_server(create_app(SCENARIO), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        outside = _picture(chromium, f"http://127.0.0.1:{server.server_port}/", args.screenshot)
    finally:
        server.shutdown()
        server.server_close()
    if outside:
        print("requests left 127.0.0.1:", *outside, sep="\n  ", file=sys.stderr)
        return 1
    print(f"wrote {args.screenshot}")
    return 0


def _picture(chromium: str, url: str, out: Path) -> list[str]:
    """Open the page, pin A, change B, save a full-page picture; the requests refused."""
    outside: list[str] = []

    def guard(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport=SIZE, device_scale_factor=1)
        page.route("**/*", guard)
        page.goto(url)
        page.wait_for_selector("#funnel .main-svg", timeout=30_000)
        page.wait_for_selector("#economics tr[data-kpi='profit']", timeout=30_000)
        page.click("#pin")
        page.wait_for_selector("#pinned-note:has-text('A:')")
        box = page.locator("input[id*='funnel.core_course.price'][id*='setting']")
        box.fill(B_PRICE)
        box.press("Enter")
        page.wait_for_selector("#ab tr[data-kpi='profit']", timeout=30_000)
        page.wait_for_function("() => document.getElementById('story').innerText.length > 0")
        page.wait_for_timeout(500)  # let plotly finish its transitions
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    return outside


if __name__ == "__main__":
    sys.exit(main())
