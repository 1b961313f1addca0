"""Rules that span several keys of a scenario, checked after the schema.

Each rule yields ``(path, message, hint)`` where ``path`` is the tuple of raw keys and
list indices leading to the offending key, so the loader can point at its line.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator
from typing import Any

from sim import budget
from sim.scenario import ReferralChannel, Scenario
from sim.spec import Referral
from sim.steps import STEP_KINDS
from sim.steps._layers import layer_problems
from sim.steps._triggers import after_problems

Path = tuple[str | int, ...]
Found = tuple[Path, str, str]

MIX_TOLERANCE = 1e-6
MAX_SELLING_STEPS = 63  # one bit each in the engine's record of what a visitor bought
MAX_REPEAT_ORDERS = 10_000  # of the one-in-a-million most eager customer, over the horizon


def near(name: str, known: list[str]) -> str:
    """A ``did you mean`` hint for ``name`` among ``known``, or the list of known names.

    The closest spelling, and the names that hold ``name`` whole (``core`` for
    ``core_course``), when there are at most three of those.

    Examples:
        >>> near("core", ["guide", "core_course", "core_lite"])
        "did you mean 'core_lite' or 'core_course'?"
        >>> near("xyz", ["guide", "course"])
        'known: guide, course'
    """
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    holding = [k for k in known if len(name) >= 3 and name in k and k not in close]
    found = close + holding if len(holding) <= 3 else close
    if found:
        return "did you mean " + " or ".join(f"'{k}'" for k in found) + "?"
    return "known: " + ", ".join(known) if known else ""


def check_scenario(s: Scenario) -> list[Found]:
    """Every cross-key problem of a schema-valid scenario, in file order."""
    return [
        *_check_horizon(s),
        *_check_mixes(s),
        *_check_segment_maps(s),
        *_check_steps(s),
        *_check_cycles(s),
        *_check_referrals(s),
        *_check_kinds(s),
        *after_problems(s.funnel, STEP_KINDS),
        *layer_problems(s.layers, s.funnel, STEP_KINDS),
        *_check_repeats(s),
        *_check_selling_steps(s),
        *_check_checkouts(s),
        *_check_memory(s),
    ]


def _check_horizon(s: Scenario) -> Iterator[Found]:
    if s.acquisition_days > s.horizon_days:
        yield (
            ("acquisition_days",),
            f"must be <= horizon_days ({s.horizon_days}), got {s.acquisition_days}",
            "traffic can only arrive within the simulated days",
        )


def _check_mixes(s: Scenario) -> Iterator[Found]:
    segments = list(s.segments)
    for name, channel in s.channels.items():
        if channel.mix is None:  # a referral channel keeping the referrer's segment
            continue
        for seg in channel.mix:
            if seg not in s.segments:
                yield (
                    ("channels", name, "mix", seg),
                    f"unknown segment '{seg}'",
                    near(seg, segments),
                )
        total = sum(channel.mix.values())
        if not math.isclose(total, 1.0, abs_tol=MIX_TOLERANCE):
            yield (
                ("channels", name, "mix"),
                f"shares must sum to 1, got {total:g}",
                "adjust the shares so they add up to 1",
            )


def _segment_fields(step: Any) -> Iterator[tuple[str, Any]]:
    for key in ("rate", "take", "value"):
        if getattr(step, key, None) is not None:
            yield key, getattr(step, key)


def _check_segment_maps(s: Scenario) -> Iterator[Found]:
    segments = list(s.segments)
    for i, step in enumerate(s.funnel):
        for key, value in _segment_fields(step):
            if not isinstance(value, dict):
                continue
            for seg in value:
                if seg not in s.segments:
                    yield (("funnel", i, key, seg), f"unknown segment '{seg}'", near(seg, segments))
            missing = [seg for seg in segments if seg not in value]
            if missing:
                yield (
                    ("funnel", i, key),
                    f"gives no value for segment(s) {', '.join(missing)}",
                    "list every segment, or give one number for all",
                )


def _check_steps(s: Scenario) -> Iterator[Found]:
    by_id = {step.id: step for step in s.funnel}
    seen: set[str] = set()
    for i, step in enumerate(s.funnel):
        if step.id in seen:
            yield (
                ("funnel", i, "id"),
                f"duplicate step id '{step.id}'",
                "give each step its own id",
            )
        seen.add(step.id)
    yield from _check_entry(s)
    yield from check_references(enumerate(s.funnel), {k: step.type for k, step in by_id.items()})


def check_references(steps: Iterable[tuple[int, Any]], types: dict[str, str]) -> Iterator[Found]:
    """Each id a step names must be a step (``types``: id → type) of a kind allowed there.

    ``steps`` are (position in the funnel, step spec); the loader also checks the steps
    that are valid on their own while the schema refuses another, so that a misspelt key
    and a misspelt id are reported together.
    """
    ids = list(types)
    for i, step in steps:
        for ref in STEP_KINDS[step.type].references(step):
            if ref.target not in types:
                yield (
                    ("funnel", i, *ref.path),
                    f"{ref.where + ': ' if ref.where else ''}no step has id '{ref.target}'",
                    near(ref.target, ids),
                )
            elif not ref.allowed(STEP_KINDS[types[ref.target]]):
                kinds = " or ".join(k.name for k in STEP_KINDS.values() if ref.allowed(k))
                yield (
                    ("funnel", i, *ref.path),
                    f"{ref.where + ': ' if ref.where else ''}'{ref.target}' is a step of type "
                    f"{types[ref.target]}, expected {kinds}",
                    "",
                )


def _check_entry(s: Scenario) -> Iterator[Found]:
    """Exactly one entry step, which every arriving visitor meets."""
    entry = " or ".join(kind.name for kind in STEP_KINDS.values() if kind.entry)
    found = [step for step in s.funnel if STEP_KINDS[step.type].entry]
    if len(found) != 1:
        yield (
            ("funnel",),
            f"needs exactly one step of type {entry} (the entry step), found {len(found)}",
            f"every arriving visitor meets the one {entry} step",
        )


def trigger_of(step: Any) -> tuple[str, str] | None:
    """The key naming the step that triggers ``step``, and that step's id (None: none)."""
    return STEP_KINDS[step.type].trigger(step)


def _check_cycles(s: Scenario) -> Iterator[Found]:
    by_id = {step.id: step for step in s.funnel}
    reported: set[str] = set()
    for i, start in enumerate(s.funnel):
        chain = [start.id]
        trigger = trigger_of(start)
        current = trigger[1] if trigger else None
        while current is not None and current in by_id and current not in chain:
            chain.append(current)
            nxt = trigger_of(by_id[current])
            current = nxt[1] if nxt else None
        if trigger is not None and current == start.id and start.id not in reported:
            reported.update(chain)
            loop = " after ".join([*chain, start.id])
            yield (
                ("funnel", i, trigger[0]),
                f"steps wait for each other in a cycle: {loop}",
                "a step cannot be triggered, directly or not, by itself",
            )


def _referrals(s: Scenario) -> Iterator[tuple[Path, Referral]]:
    if s.referral is not None:
        yield ("referral",), s.referral
    for i, step in enumerate(s.funnel):
        referral = getattr(step, "referral", None)  # a step's own, replacing the scenario's
        if referral is not None:
            yield ("funnel", i, "referral"), referral


def _check_referrals(s: Scenario) -> Iterator[Found]:
    fitting = [name for name, ch in s.channels.items() if isinstance(ch, ReferralChannel)]
    for path, referral in _referrals(s):
        name = referral.channel
        if name not in s.channels:
            hint = near(name, fitting) if fitting else "add a channel of type referral"
            yield (*path, "channel"), f"no channel named '{name}'", hint
        elif not isinstance(s.channels[name], ReferralChannel):
            yield (
                (*path, "channel"),
                f"'{name}' is a channel of type {s.channels[name].type}, expected referral",
                "referred visitors arrive through a channel of type referral",
            )


def _check_kinds(s: Scenario) -> Iterator[Found]:
    """What a kind checks within one step of its own (a team's rep names)."""
    for i, step in enumerate(s.funnel):
        for path, message, hint in STEP_KINDS[step.type].check(step):
            yield ("funnel", i, *path), message, hint


def _check_repeats(s: Scenario) -> Iterator[Found]:
    for i, step in enumerate(s.funnel):
        repeat = getattr(step, "repeat", None)
        if repeat is not None and repeat.r / repeat.alpha > 1:
            yield (
                ("funnel", i, "repeat", "alpha"),
                f"a mean of {repeat.r / repeat.alpha:g} repeat orders a day per customer "
                f"(r / alpha = {repeat.r:g} / {repeat.alpha:g}); at most 1 is allowed",
                "the rates are per day: one order a month on average is r / alpha = 1/30",
            )
        elif repeat is not None:
            # the rate's heavy tail: a Gamma with a small shape gives a few customers
            # thousands of orders a day, each drawn one by one
            from scipy.stats import gamma  # here: only repeat orders need it

            eager = float(gamma.ppf(1 - 1e-6, repeat.r, scale=1 / repeat.alpha))
            orders = eager * s.horizon_days
            if not orders <= MAX_REPEAT_ORDERS:
                yield (
                    ("funnel", i, "repeat", "r"),
                    f"one customer in a million would order {orders:,.0f} times over the "
                    f"horizon (purchase rate ~ Gamma(r={repeat.r:g}, alpha={repeat.alpha:g})); "
                    f"at most {MAX_REPEAT_ORDERS:,} are allowed",
                    "raise r and alpha together (same mean r / alpha, a thinner tail)",
                )


def _check_selling_steps(s: Scenario) -> Iterator[Found]:
    selling = [i for i, step in enumerate(s.funnel) if STEP_KINDS[step.type].sells]
    if len(selling) > MAX_SELLING_STEPS:
        yield (
            ("funnel", selling[MAX_SELLING_STEPS], "id"),
            f"{len(selling)} steps sell; at most {MAX_SELLING_STEPS} are supported",
            "merge offers, or split the funnel into several scenarios",
        )


def _check_checkouts(s: Scenario) -> Iterator[Found]:
    """A sellable step has at most one checkout (one share of would-be buyers leaving it)."""
    seen: set[str] = set()
    for i, step in enumerate(s.funnel):
        checkout = STEP_KINDS[step.type].checkout
        if checkout is None:
            continue
        sold, _ = checkout(step)
        if sold in seen:
            yield (
                ("funnel", i, "offer"),
                f"'{sold}' already has a checkout: a second would split its would-be buyers twice",
                "keep one cart per offer, with all its reminders",
            )
        seen.add(sold)


def _check_memory(s: Scenario) -> Iterator[Found]:
    """A single replication that would not fit in the memory budget, at its largest channel."""
    found = budget.refusal(s, replications=s.replications)
    if found is not None:
        largest = max(s.channels, key=lambda name: budget.daily_visitors(s.channels[name]))
        yield ("channels", largest), *found
