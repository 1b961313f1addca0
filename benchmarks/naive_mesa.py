"""The canonical workload written the way a Mesa user naturally would: one agent per visitor.

This is the yardstick the engine's speed is measured against (benchmarks/run.py), so it is
neither slowed down nor tuned: each visitor is a ``mesa.Agent`` stepped every day, making
each decision with one draw from the model's generator (``self.model.rng.random()``), and
removed when nothing more can happen to it. It implements the same model as ``sim/``
(docs/model.md), for the funnel shape of ``benchmarks/canonical.yaml``: opt-in, an email
sequence, a tripwire, a core offer with an order bump, and a subscription; every number is
read from the scenario, so a scaled scenario (``--set`` overrides) runs here unchanged.

Where the engine draws a subscriber's renewals once at joining, this model draws churn
before each renewal, day by day, with the discrete-Weibull hazard
``1 − q^(k^β − (k−1)^β)``: the same law, drawn the way a per-agent model would.

Usage:
    python benchmarks/naive_mesa.py [--visitors N] [--seed S]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import mesa
import numpy as np

import sim
from sim.behavior import paid_clicks

CANONICAL = Path(__file__).resolve().parent / "canonical.yaml"


def per_segment(value, segment):
    """A scenario number that is either one number or a map segment -> number."""
    return value[segment] if isinstance(value, dict) else value


class Channel:
    """Where visitors come from: expected visitors a day, the segment mix, the warmth."""

    def __init__(self, spec):
        if spec.type == "paid":
            self.visitors_per_day = paid_clicks(
                spec.daily_budget, spec.cpc, spec.half_saturation_budget
            )
        else:
            self.visitors_per_day = spec.visitors_per_day
        self.mix = dict(spec.mix)
        self.warmth = spec.warmth

    def pick_segment(self, u):
        """The segment a uniform draw ``u`` falls in, walking the cumulative shares."""
        total = sum(self.mix.values())
        cumulative = 0.0
        for segment, share in self.mix.items():
            cumulative += share / total
            if u < cumulative:
                return segment
        return segment  # u within rounding of 1: the last segment


class Visitor(mesa.Agent):
    """One visitor, from arrival until nothing more can happen to it."""

    def __init__(self, model, channel):
        super().__init__(model)
        rng = model.rng
        self.arrival_day = model.day
        self.segment = channel.pick_segment(rng.random())
        seg = model.scenario.segments[self.segment]
        self.wtp_scale = rng.lognormal(0.0, seg.price_dispersion)
        self.trust = min(max(seg.trust + channel.warmth, 0.0), 1.0)
        self.junk = rng.random() < seg.junk_share
        self.email = seg.email
        self.lead = False
        self.subscribed = False
        self.customer = False
        self.member = False
        self.joined_day = None
        self.renewals = 0
        model.visitors += 1

    def step(self):
        """Whatever is due for this visitor today, in funnel order."""
        model = self.model
        age = model.day - self.arrival_day
        if age == 0:
            self.opt_in()
            if not self.lead:
                self.remove()
                return
        if age in model.nurture.days and self.subscribed:
            self.read_email()
        if age == model.tripwire.delay_days:
            self.consider_offer(model.tripwire)
        if age == model.core.delay_days and self.consider_offer(model.core):
            self.consider_offer(model.bump, new_order=False)
        if age == model.club.delay_days:
            self.consider_club()
        if self.member and self.renewal_due():
            self.renew()
        if age >= model.last_age and not self.member:
            self.remove()

    def renewal_due(self):
        tenure = self.model.day - self.joined_day
        return tenure > 0 and tenure % self.model.club.period_days == 0

    def opt_in(self):
        rate = per_segment(self.model.magnet.rate, self.segment)
        if self.model.rng.random() < rate:
            self.lead = True
            self.subscribed = True
            self.model.leads += 1

    def read_email(self):
        """Receive one email; returns whether it was opened."""
        rng = self.model.rng
        opened = rng.random() < self.email.open_rate
        leaving = rng.random() < self.email.unsubscribe_rate
        if opened:
            self.trust = min(self.trust + self.email.trust_per_open, 1.0)
        if leaving:
            self.subscribed = False
        return opened

    def sees(self, step):
        """Whether the visitor sees a step today: on a page always, by email if opened."""
        if getattr(step, "via", "page") != "email":  # an order bump has no `via`: a page
            return True
        return self.subscribed and self.read_email()

    def decides_to_buy(self, step, price):
        take = per_segment(step.take, self.segment)
        value = per_segment(step.value, self.segment)
        if self.junk:
            return False
        return self.model.rng.random() < take * self.trust and self.wtp_scale * value >= price

    def consider_offer(self, step, new_order=True):
        """Show an offer or a bump; returns whether the visitor bought it."""
        if not self.sees(step) or not self.decides_to_buy(step, step.price):
            return False
        self.pay(step.price, new_order)
        self.trust = min(self.trust + getattr(step, "trust_gain", 0.0), 1.0)
        return True

    def consider_club(self):
        club = self.model.club
        if not self.sees(club) or not self.decides_to_buy(club, club.first_payment):
            return
        self.pay(club.first_payment, True)
        self.trust = min(self.trust + club.trust_gain, 1.0)
        self.member = True
        self.joined_day = self.model.day

    def renew(self):
        """Churn before the k-th renewal with the discrete-Weibull hazard, else pay."""
        churn = self.model.club.churn
        k = self.renewals + 1
        q = 1.0 - churn.rate
        hazard = 1.0 - q ** (k**churn.shape - (k - 1) ** churn.shape)
        if self.model.rng.random() < hazard:
            self.member = False
            return
        self.renewals = k
        self.pay(self.model.club.price, True)

    def pay(self, amount, new_order):
        model = self.model
        model.revenue += amount
        if new_order:
            model.orders += 1
        if not self.customer:
            self.customer = True
            model.buyers += 1


class NaiveFunnelModel(mesa.Model):
    """One replication of the canonical funnel, one agent per visitor."""

    def __init__(self, scenario, rng=None):
        super().__init__(rng=rng)
        self.scenario = scenario
        self.day = 0
        self.channels = [Channel(spec) for spec in scenario.channels.values()]
        self.magnet = scenario.step("magnet")
        self.nurture = scenario.step("nurture")
        self.tripwire = scenario.step("tripwire")
        self.core = scenario.step("core")
        self.bump = scenario.step("bump")
        self.club = scenario.step("club")
        # after this many days from arrival only club members have anything left to happen
        self.last_age = max(
            *self.nurture.days,
            self.tripwire.delay_days,
            self.core.delay_days,
            self.club.delay_days,
        )
        self.visitors = self.leads = self.buyers = self.orders = 0
        self.revenue = 0.0

    def step(self):
        if self.day < self.scenario.acquisition_days:
            for channel in self.channels:
                for _ in range(self.rng.poisson(channel.visitors_per_day)):
                    Visitor(self, channel)
        self.agents.do("step")
        self.day += 1

    def run(self):
        while self.day < self.scenario.horizon_days:
            self.step()

    def kpis(self):
        return {
            "visitors": float(self.visitors),
            "leads": float(self.leads),
            "buyers": float(self.buyers),
            "orders": float(self.orders),
            "revenue": float(self.revenue),
        }


def run_naive(scenario, seed, index):
    """Replication ``index`` of the naive model; its KPIs (the engine's names)."""
    model = NaiveFunnelModel(scenario, rng=np.random.SeedSequence(seed, spawn_key=(index,)))
    model.run()
    return model.kpis()


def main():
    from engine_speed import scale_overrides

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--visitors", type=float, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = sim.load_scenario(CANONICAL)
    scenario = sim.load_scenario(CANONICAL, overrides=scale_overrides(base, args.visitors))
    started = time.perf_counter()
    kpis = run_naive(scenario, args.seed, 0)
    elapsed = time.perf_counter() - started
    for name, value in kpis.items():
        print(f"{name:10} {value:14,.0f}")
    print(f"speed      {kpis['visitors'] / elapsed:14,.0f} visitors/s")


if __name__ == "__main__":
    main()
