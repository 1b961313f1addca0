"""The studio's Dash app: callbacks from the controls to the run, the comparison and the trace.

Every figure is recomputed on the server from the state of the controls, so the same
state (a link, an exercise file) always shows the same page; runs are cached by design,
replications and seed, which makes pinning A and going back to a design instant.
"""

from __future__ import annotations

import base64
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import flask
from dash import ALL, MATCH, Dash, Input, Output, State, ctx, html, no_update

from sim.studio import engine as engine
from sim.studio import layout, state

ASSETS = Path(__file__).parent / "assets"
_SETTING = {"kind": "setting", "path": ALL}
_RUN_CACHE = 32  # designs kept: a lesson moves a few sliders back and forth


def create_app(
    scenario: str | Path,
    *,
    controls: tuple[str, ...] = (),
    replications: int | None = None,
    seed: int | None = None,
    variant: str | None = None,
    lesson: str = "",
) -> Dash:
    """The studio for one scenario file.

    Args:
        scenario: the YAML file.
        controls: dotted paths to show; default the scenario's ``search:`` entries.
        replications: default the scenario's own.
        seed: default the scenario's own.
        variant: the design to open on; default the base.
        lesson: a line naming the lesson the page opens for, or empty.

    Raises:
        ScenarioError: the scenario, or a control's path, is not valid.
    """
    path = Path(scenario)
    base = engine.load(path, [])
    specs = {c.path: c for c in engine.controls_of(base)}
    for extra in controls:
        engine.current_value(path, extra)  # refuse a path the scenario does not have
    shown = list(controls) or list(specs)
    default = {
        "replications": replications or base.replications,
        "seed": base.seed if seed is None else seed,
        "variant": variant or engine.BASE,
        "settings": {p: engine.current_value(path, p) for p in shown},
    }
    app = Dash(
        __name__,
        title=f"{base.name} · funnelsim studio",
        assets_folder=str(ASSETS),
        serve_locally=True,  # every script and style from the installed packages
        update_title=None,  # type: ignore[arg-type]  # None: no title while updating
    )
    subtitle = f"{path.name} · {base.horizon_days} days · change a number, the funnel answers"
    app.layout = layout.page(base.name, subtitle, lesson, engine.variants_of(base))
    _callbacks(app, path, base, specs, default)
    return app


def _callbacks(
    app: Dash,
    path: Path,
    base: engine.Scenario,
    specs: dict[str, engine.Control],
    default: dict[str, Any],
) -> None:
    @lru_cache(maxsize=_RUN_CACHE)
    def scenario(overrides: tuple[str, ...], variant: str) -> engine.Scenario:
        return engine.load(path, overrides, variant)

    @lru_cache(maxsize=_RUN_CACHE)
    def run(overrides: tuple[str, ...], variant: str, n: int, seed: int) -> engine.RunResult:
        return engine.run(scenario(overrides, variant), replications=n, seed=seed)

    def design(current: dict[str, Any]) -> tuple[tuple[str, ...], str]:
        sets = tuple(f"{p}={v}" for p, v in current["settings"].items() if str(v).strip())
        return sets, current["variant"]

    def controls(settings: dict[str, str]) -> list[html.Div]:
        return [
            layout.control(specs.get(p, engine.Control(p)), str(v)) for p, v in settings.items()
        ]

    @app.callback(
        Output("controls", "children"),
        Output("n", "value"),
        Output("seed", "value"),
        Output("variant", "value"),
        Output("add-error", "children"),
        Output("upload-error", "children"),
        Output("new-path", "value"),
        Input("url", "search"),
        Input("upload", "contents"),
        Input("add", "n_clicks"),
        Input("new-path", "n_submit"),
        State({"kind": "setting", "path": ALL}, "value"),
        State({"kind": "setting", "path": ALL}, "id"),
        State("new-path", "value"),
        State("n", "value"),
        State("seed", "value"),
        State("variant", "value"),
    )
    def build(  # each callback takes the browser's values: JSON of any shape
        search: Any,
        upload: Any,
        _add: Any,
        _submit: Any,
        values: Any,
        ids: Any,
        new: Any,
        n: Any,
        seed: Any,
        variant: Any,
    ) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        if trigger == "upload" and upload:
            try:
                text = base64.b64decode(upload.split(",", 1)[1]).decode("utf-8")
                s = state.from_json(text, default)
            except (ValueError, UnicodeDecodeError) as exc:
                return (no_update,) * 5 + (str(exc), no_update)
            return controls(s["settings"]), s["replications"], s["seed"], s["variant"], "", "", ""
        if trigger in ("add", "new-path") and (new or "").strip():
            settings = {i["path"]: v or "" for i, v in zip(ids, values, strict=True)}
            dotted = new.strip()
            try:
                settings.setdefault(dotted, engine.current_value(path, dotted))
            except engine.ScenarioError as exc:
                return (no_update,) * 4 + (_problems(exc), no_update, no_update)
            return controls(settings), n, seed, variant, "", no_update, ""
        s = state.from_query(search or "", default)
        return controls(s["settings"]), s["replications"], s["seed"], s["variant"], "", "", ""

    @app.callback(
        Output({"kind": "setting", "path": MATCH}, "value"),
        Output({"kind": "slider", "path": MATCH}, "value"),
        Input({"kind": "setting", "path": MATCH}, "value"),
        Input({"kind": "slider", "path": MATCH}, "value"),
        prevent_initial_call=True,
    )
    def sync(text: Any, number: Any) -> tuple[Any, Any]:
        if ctx.triggered_id and ctx.triggered_id.get("kind") == "slider":
            return _plain(number), no_update
        value = layout.parse_number(text)
        return no_update, no_update if value is None else value

    @app.callback(
        Output("cards", "children"),
        Output("funnel", "figure"),
        Output("cash", "figure"),
        Output("economics", "children"),
        Output("error", "children"),
        Output("ab", "children"),
        Output("share", "href"),
        Output("state", "data"),
        Output("timing", "children"),
        Input(_SETTING, "value"),
        Input("n", "value"),
        Input("seed", "value"),
        Input("variant", "value"),
        Input("pinned", "data"),
        State(_SETTING, "id"),
    )
    def update(
        values: Any, n: Any, seed: Any, variant: Any, pinned: Any, ids: Any
    ) -> tuple[Any, ...]:
        current = {
            "replications": n,
            "seed": seed,
            "variant": variant or engine.BASE,
            "settings": {i["path"]: v or "" for i, v in zip(ids, values, strict=True)},
        }
        keep = (no_update,) * 4
        if not isinstance(n, int) or not 2 <= n <= 500:
            return *keep, "replications: a whole number from 2 to 500", *(no_update,) * 4
        if not isinstance(seed, int) or seed < 0:
            return *keep, "seed: a whole number, 0 or more", *(no_update,) * 4
        started = time.perf_counter()
        try:
            result = run(*design(current), n, seed)
            ab = _ab(run(*design(pinned), n, seed), result) if pinned else _ab_hint()
        except engine.ScenarioError as exc:
            return *keep, _problems(exc), *(no_update,) * 4
        elapsed = time.perf_counter() - started
        link = flask.request.host_url.rstrip("/") + "/" + state.to_query(current)
        return (
            _cards(result),
            engine.funnel_figure(result, scenario(*design(current))),
            engine.cash_figure(result),
            _economics(result),
            "",
            ab,
            link,
            current,
            f"{n} replications in {elapsed:.2f} s",
        )

    @app.callback(
        Output("pinned", "data"),
        Output("pinned-note", "children"),
        Input("pin", "n_clicks"),
        Input("unpin", "n_clicks"),
        State("state", "data"),
        prevent_initial_call=True,
    )
    def pin(_pin: Any, _unpin: Any, current: Any) -> tuple[Any, str]:
        if ctx.triggered_id == "unpin" or not current:
            return None, ""
        sets, variant = design(current)
        what = ", ".join(sets) or "the scenario as written"
        return current, f"A: {what}" + (f" (variant {variant})" if variant != engine.BASE else "")

    @app.callback(
        Output("who", "options"),
        Output("who", "value"),
        Input("url", "search"),
    )
    def who(_search: Any) -> tuple[list[dict[str, str]], str]:
        options = [{"label": label, "value": f} for label, f in engine.visitor_filters(base)]
        buyers = [o["value"] for o in options if o["value"].startswith("bought=")]
        return options, buyers[0] if buyers else options[0]["value"]

    @app.callback(
        Output("story-note", "children"),
        Output("story", "children"),
        Input("state", "data"),
        Input("who", "value"),
        Input("visitor", "value"),
    )
    def story(current: Any, where: Any, visitor: Any) -> Any:
        if not current or not where:
            return no_update, no_update
        try:
            return engine.journey_text(
                scenario(*design(current)), seed=current["seed"], where=where, visitor=visitor
            )
        except (engine.ScenarioError, ValueError) as exc:
            return str(exc), ""

    @app.callback(
        Output("download", "data"),
        Input("save", "n_clicks"),
        State("state", "data"),
        prevent_initial_call=True,
    )
    def save(_clicks: Any, current: Any) -> Any:
        if not current:
            return no_update
        text = state.to_json(current, path.name)
        return {"content": text, "filename": f"{path.stem}-exercise.json"}


def _plain(number: float | None) -> str:
    """A slider's value as one would type it: 12, not 12.0."""
    if number is None:
        return ""
    value = float(number)
    return str(int(value)) if value.is_integer() else f"{round(value, 6):g}"


def _problems(exc: engine.ScenarioError) -> html.Ul:
    """The located messages of a bad value, as ``sim`` prints them."""
    return html.Ul(
        [
            html.Li(
                [
                    html.Code(p.location()),
                    f" {p.path}: " if p.path else " ",
                    p.message,
                    html.Div(f"hint: {p.hint}", className="hint") if p.hint else None,
                ]
            )
            for p in exc.problems
        ]
    )


def _cards(result: engine.RunResult) -> list[html.Div]:
    return [
        html.Div(
            [
                html.Div(label, className="label"),
                html.Div(mean, className="mean"),
                html.Div(f"90%: {interval}" if interval else "\u00a0", className="interval"),
            ],
            className="kpi",
            **{"data-kpi": name},  # type: ignore[arg-type]  # data-* props are untyped
        )
        for name, label, mean, interval in engine.headline(result)
    ]


def _economics(result: engine.RunResult) -> html.Table:
    s = result.summary
    head = html.Tr([html.Th("KPI"), html.Th("mean"), html.Th("90% interval")])
    rows = [
        html.Tr(
            [html.Td(label), html.Td(mean, className="num"), html.Td(interval, className="num")],
            **{"data-kpi": name},  # type: ignore[arg-type]  # data-* props are untyped
        )
        for name, label, mean, interval in engine.kpi_rows(result)
    ]
    caption = f"{s.replications} replications of seed {s.seed}; interval: 5th–95th percentile"
    return html.Table(
        [html.Caption(caption), html.Thead(head), html.Tbody(rows)], className="economics"
    )


def _ab_hint() -> html.P:
    return html.P(
        "A against B: pin this design as A (left), then change a number to see B − A.",
        className="hint",
    )


def _ab(a: engine.RunResult, b: engine.RunResult) -> list[Any]:
    head = html.Tr([html.Th(h) for h in ("KPI", "A", "B", "B − A", "90% interval", "told apart?")])
    rows = {
        r["kpi"]: html.Tr(
            [
                html.Td(r["label"]),
                html.Td(r["a"], className="num"),
                html.Td(r["b"], className="num"),
                html.Td(r["diff"], className="num diff"),
                html.Td(r["interval"], className="num"),
                html.Td(r["apart"], className="apart"),
            ],
            className="apart-yes" if r["apart"] == "yes" else "",
            # dash declares no data-* props
            **{f"data-{k}": repr(v) for k, v in r["raw"].items()},  # type: ignore[arg-type]
            **{"data-kpi": r["kpi"]},
        )
        for r in engine.ab_rows(a, b)
    }
    first = [name for name, *_ in engine.headline(b)]
    rest = [name for name in rows if name not in first]
    s = a.summary
    note = (
        f"{s.replications} replications of seed {s.seed} for each, on the same simulated people; "
        "B − A: mean of the paired differences with its 90% t-interval; told apart: yes when "
        "the interval leaves out zero, ≈n: about n replications would tell."
    )
    return [
        html.H2("A against B"),
        html.P(engine.ab_verdict(a, b), className="verdict"),
        html.Table([html.Thead(head), html.Tbody([rows[k] for k in first])], className="economics"),
        html.Details(
            [
                html.Summary("the other KPIs"),
                html.Table([html.Tbody([rows[k] for k in rest])], className="economics"),
            ]
        ),
        html.P(note, className="hint"),
    ]
