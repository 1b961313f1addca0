"""`sim studio` in a real browser: offline, and showing what `sim run`, `sim compare` and `sim trace` say.

Headless Chromium (Debian's package) drives the page through Playwright; every request that
would leave 127.0.0.1 is refused and recorded. Runs use few replications to stay fast.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

pytest.importorskip("dash", reason="the studio needs the studio extra: pip install -e '.[studio]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright")

from typer.testing import CliRunner  # noqa: E402

from cli import app  # noqa: E402
from sim import ScenarioError, load_scenario  # noqa: E402
from sim.studio import create_app, make_server  # noqa: E402
from sim.studio import state as studio_state  # noqa: E402
from sim.studio.lessons import lesson, lessons  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PASTRY = ROOT / "scenarios" / "pastry_school.yaml"
CHROMIUM = "/usr/bin/chromium"
N, SEED = 4, 3
QUERY = f"?n={N}&seed={SEED}"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


def _cli(*args: str) -> str:
    """What ``sim ARGS`` prints, run in this process (a terminal 100 columns wide)."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = make_server(create_app(PASTRY), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser):
    """One browser context for the module, so plotly.js is fetched once and then cached."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


@pytest.fixture
def page(context):
    """A fresh page whose requests may not leave 127.0.0.1: any other is refused and kept."""
    page = context.new_page()
    page.outside = []

    def guard(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    yield page
    page.close()


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#economics tr[data-kpi='profit']", timeout=20_000)
    page.wait_for_selector("#funnel .main-svg", timeout=20_000)


def _setting(page, path: str):
    return page.locator(f"input[id*='\"path\":\"{path}\"'][id*='setting']")


def _change(page, path: str, value: str) -> None:
    """Type a value and press Enter; wait until the page shows a run of it."""
    before = page.get_attribute("#share", "href")
    box = _setting(page, path)
    box.fill(value)
    box.press("Enter")
    page.wait_for_function(
        "before => document.getElementById('share').getAttribute('href') !== before",
        arg=before,
        timeout=20_000,
    )


def _profit_text(page) -> str:
    return page.inner_text("#economics tr[data-kpi='profit'] td:nth-child(2)")


def _funnel_means(page) -> dict[str, list[float]]:
    traces = page.evaluate(
        "() => document.querySelector('#funnel .js-plotly-plot')._fullData"
        ".map(t => [t.name, Array.from(t.x)])"
    )
    return {name: [float(x) for x in xs] for name, xs in traces}


@needs_chromium
def test_page_loads_with_no_request_leaving_loopback(page, base_url: str) -> None:
    _open(page, base_url + QUERY)
    assert page.locator(".kpi").count() >= 6
    assert page.locator("#cash .main-svg").count() >= 1
    assert page.outside == []


@needs_chromium
def test_moving_the_tripwire_price_gives_what_sim_run_gives(page, base_url: str) -> None:
    _open(page, base_url + QUERY)
    before = _profit_text(page)
    page.locator("[id*='slider'][id*='funnel.tripwire.price'] [role='slider']").press("ArrowRight")
    page.wait_for_function(
        "before => document.querySelector(\"#economics tr[data-kpi='profit'] td:nth-child(2)\")"
        ".innerText !== before",
        arg=before,
        timeout=20_000,
    )
    value = _setting(page, "funnel.tripwire.price").input_value()
    assert value == "9.1"  # one step of the slider from the file's $9
    summary = json.loads(
        _cli(
            "run",
            str(PASTRY),
            "--set",
            f"funnel.tripwire.price={value}",
            "-n",
            str(N),
            "--seed",
            str(SEED),
            "--json",
        )
    )
    shown = _profit_text(page)
    assert shown == f"${summary['kpis']['profit']['mean']:,.2f}"
    funnel = _funnel_means(page)
    steps = [s.id for s in load_scenario(PASTRY).funnel if s.type != "email_sequence"]
    assert funnel["reached"] == pytest.approx(
        [summary["steps"][s]["reached"]["mean"] for s in steps]
    )
    assert funnel["converted"] == pytest.approx(
        [summary["steps"][s]["converted"]["mean"] for s in steps]
    )
    assert page.outside == []


@needs_chromium
def test_pinned_a_against_b_is_sim_compare_vs(page, base_url: str) -> None:
    _open(page, base_url + QUERY)
    page.click("#pin")
    page.wait_for_selector("#pinned-note:has-text('A:')")
    _change(page, "funnel.core_course.price", "390")
    row = page.locator("#ab tr[data-kpi='profit']")
    row.wait_for(timeout=20_000)
    compared = json.loads(
        _cli(
            "compare",
            str(PASTRY),
            "--vs",
            "funnel.core_course.price=390",
            "-n",
            str(N),
            "--seed",
            str(SEED),
            "--json",
        )
    )
    diff = compared["kpis"]["profit"]["differences"][0]
    for key in ("mean", "lo", "hi"):
        assert float(row.get_attribute(f"data-{key}")) == diff[key]
    apart = row.locator(".apart").inner_text()
    assert (apart == "yes") == diff["distinguishable"]
    verdict = page.inner_text("#ab .verdict")
    assert verdict.startswith("profit: B ")


@needs_chromium
def test_a_bad_value_shows_the_located_error(page, base_url: str) -> None:
    _open(page, base_url + QUERY)
    profit = _profit_text(page)
    box = _setting(page, "funnel.tripwire.price")
    box.fill("-5")
    box.press("Enter")
    page.wait_for_selector("#error li", timeout=20_000)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(PASTRY, overrides=["funnel.tripwire.price=-5"])
    problem = caught.value.problems[0]
    text = page.inner_text("#error")
    assert problem.location() in text
    assert problem.message in text
    assert _profit_text(page) == profit  # the last good run stays on the page
    box.fill("12")
    box.press("Enter")
    page.wait_for_function("() => !document.querySelector('#error li')", timeout=20_000)


@needs_chromium
def test_a_visitors_journey_is_what_sim_trace_tells(page, base_url: str) -> None:
    _open(page, base_url + QUERY)
    page.wait_for_function("() => document.getElementById('story').innerText.includes('Visitor')")
    shown = page.inner_text("#story")
    told = _cli("trace", str(PASTRY), "--where", "bought=tripwire", "--sample", "1",
                "--seed", str(SEED))  # fmt: skip
    journey = told.split("\n", 2)[2]  # after the line that says who was picked, and a blank
    assert _lines(shown) == _lines(journey)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def test_a_second_instance_picks_a_free_port() -> None:
    app = create_app(PASTRY)
    first = make_server(app, port=0)
    try:
        second = make_server(app, port=first.server_port)
        assert second.server_port != first.server_port
        second.server_close()
    finally:
        first.server_close()


def test_sim_studio_prints_its_address_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "studio", str(PASTRY), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        address = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert address, line
        with urlopen(address[0], timeout=60) as response:
            assert b"react-entry-point" in response.read()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 0
    assert "stopped" in out


def test_the_state_survives_a_link_and_a_file() -> None:
    default = {"replications": 20, "seed": 7, "variant": "base", "settings": {"a.b": ""}}
    saved = {"replications": 5, "seed": 2, "variant": "no_tripwire",
             "settings": {"funnel.tripwire.price": "12", "funnel.core_course.price": ""}}  # fmt: skip
    assert studio_state.from_query(studio_state.to_query(saved), default) == saved
    assert studio_state.from_json(studio_state.to_json(saved, "x.yaml"), default) == saved
    with pytest.raises(ValueError, match="not an exercise file"):
        studio_state.from_json('{"settings": {}}', default)


def test_lessons_open_their_scenario_with_the_numbers_they_change() -> None:
    found = lessons()
    assert set(found) >= {1, 2, 3, 4, 6}
    bump = lesson(4)
    assert bump.scenario == PASTRY
    assert "funnel.starter_kit.take" in bump.controls
    assert lesson(2).variant == "no_tripwire"
    with pytest.raises(KeyError, match="no lesson 99"):
        lesson(99)


@pytest.mark.parametrize("number", sorted(lessons()))
def test_every_lesson_opens(number: int) -> None:
    found = lesson(number)
    app = create_app(
        found.scenario,
        controls=found.controls,
        replications=found.replications,
        variant=found.variant,
        lesson=found.title,
    )
    assert app.title.endswith("funnelsim studio")


def test_uncertain_quantities_get_controls_that_fix_them() -> None:
    from sim.assumptions import has_uncertain
    from sim.studio import engine

    scenario = load_scenario("scenarios/quickstart_ranges.yaml")
    controls = {c.path: c for c in engine.controls_of(scenario)}
    cpc = scenario.channels["ads"].cpc  # a lognormal: its control spans the 5th-95th percentile
    assert controls["channels.ads.cpc"].low == pytest.approx(float(cpc.ppf(0.05)))  # type: ignore[union-attr]
    assert controls["channels.ads.cpc"].high == pytest.approx(float(cpc.ppf(0.95)))  # type: ignore[union-attr]
    # a quantity tied by a correlation keeps its distribution: fixing it would break the tie
    assert "funnel.course.take" not in controls
    fixed = engine.load("scenarios/quickstart_ranges.yaml", ["channels.ads.cpc=1.2"])
    assert fixed.channels["ads"].cpc == 1.2
    assert has_uncertain(fixed)  # the other ranges stay ranges
