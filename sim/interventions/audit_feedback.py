"""Audit and feedback with SPC charts: units measure their compliance and react to it.

Each targeted unit audits ``sample_size`` patients per launched bundle and period of
``interval_weeks`` weeks, and while the intervention is active the audit of the period just ended
is fed back at the start of the next week (an audit starting in week 1 feeds back the baseline
period 0). What an audit is — the period's mean true compliance, the binomial sample, its random
stream — is defined once in :mod:`sim.outcomes.audit`, so these audits are the rows
``[measurement]`` and ``--spc-units`` give for the same unit and settings; they are kept
(``observations``). Until the next audit the unit reacts to the gap between its observed
compliance and ``target_compliance``: trying
rises by ``response`` × gap on the log-hazard scale, seeing the data reinforces practice
(``support``) and staff who had not heard of the bundle hear of it from the chart
(``awareness``, a weekly chance). Audit and feedback gives small to moderate gains, larger when
baseline performance is low (Ivers et al. 2012, Cochrane: median +4.3 percentage points); the
levers are assumptions. This is the feedback loop of SPEC §5.

``feedback = "outcome"`` feeds back an outcome indicator instead, as Keystone fed back infection
rates: the unit's expected harm rate over the period (per 1,000 exposure units, e.g. infections
per 1,000 catheter-days, :func:`sim.outcomes.harm.unit_rate_indicator`) relative to its week-0
rate, and the gap is ``max(0, rate / baseline rate − target_rate_ratio)`` (0 where the bundle's
harm is not counted). The compliance audit is still drawn and kept in ``observations``. The
default (``"compliance"``) is the behaviour above, unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.interventions.base import Intervention
from sim.outcomes import audit, harm
from sim.params import FITTED, P, ParamSet

if TYPE_CHECKING:
    from sim.model import ImplementationModel


class AuditFeedback(Intervention):
    """Audit of compliance with feedback on SPC charts."""

    type_name = "audit_feedback"
    PARAMS = ParamSet("audit_feedback", "Audit and feedback.", (
        P("interval_weeks", 4, "Weeks per audit period, fed back after each (4 = monthly).",
          unit="weeks", low=1, high=52),
        P("sample_size", 20, "Patients audited per unit, bundle and audit.", unit="patients",
          low=1, high=1000, source="assumption: In Safe Hands units audited ~20 a month"),
        P("target_compliance", 0.9, "Compliance the unit aims for.", unit="share", low=0.0,
          high=1.0),
        P("response", 1.0, "Log-hazard increase of trying per unit of gap below the target.",
          unit="log-hazard", low=0.0, high=10.0,
          source="assumption, sized so the gain is modest (Ivers et al. 2012: +4.3 points)"),
        P("support", 0.2, "Reinforcement from seeing one's own data (0–1).", unit="share",
          low=0.0, high=1.0, source="assumption, small as in Ivers et al. 2012"),
        P("awareness", 0.14, "Weekly chance that an unaware eligible staff member of an audited "
          "unit hears of the bundle from the feedback (the chart discussed at a meeting).",
          unit="1/week", low=0.0, high=1.0,
          plausible=(0.0, 0.3),
          source=f"{FITTED}; posterior median 0.14, 90% interval "
          "[0.0041, 0.27]; plausible range = the prior"),
        P("feedback", "compliance", "What is fed back: the audited all-or-none compliance "
          "('compliance') or the unit's harm-rate indicator relative to its week-0 rate "
          "('outcome', e.g. infections per 1,000 catheter-days).",
          choices=("compliance", "outcome")),
        P("target_rate_ratio", 0.5, "With feedback = 'outcome': the harm rate the unit aims "
          "for, as a share of its week-0 rate.", unit="share", low=0.0, high=1.0,
          source="assumption"),
        P("cost_per_audit", 800.0, "Cost per unit, bundle and audit (NOK).", unit="NOK",
          low=0.0, high=1e6, source="assumption: ~1.5 h of a nurse's time"),
    ))

    def setup(self, model: ImplementationModel) -> None:
        """Start with no observations and no gap."""
        super().setup(model)
        self.gap = np.zeros((model.pop.n_units, len(model.scenario.bundles)), np.float32)
        self._weeks = audit.PeriodWeeks(self.pars["interval_weeks"])
        self._audits: list[tuple[np.ndarray, ...]] = []  # (units, bundles, periods, true, counts)

    def apply(self, model: ImplementationModel, week: int) -> None:
        """Feed back the audit of the period that just ended; react to the gap every active week."""
        # the unit audits calendar periods (sim.outcomes.audit); the one that ended last week
        ended = self._weeks.add(week - 1, model.unit_compliance)
        if not self.active(week):
            return
        bundles = self.bundles_now(model)
        if len(bundles) == 0:
            return
        units = np.flatnonzero(self.units)
        if ended is not None:
            period, true_all = ended
            n = self.pars["sample_size"]
            true = true_all[np.ix_(units, bundles)]
            applicable = ~np.isnan(true)
            ui, bj = np.nonzero(applicable)
            names = [(model.pop.unit_name[units[i]], model.scenario.bundle_names[bundles[j]])
                     for i, j in zip(ui, bj, strict=True)]
            counts = audit.compliant(audit.uniforms(model.seed, names, np.array([period]))[:, 0],
                                     n, true[ui, bj])
            x = np.zeros(true.shape, np.int64)
            x[ui, bj] = counts
            self.gap[np.ix_(units, bundles)] = np.maximum(0.0,
                                                          self.pars["target_compliance"] - x / n)
            if self.pars["feedback"] == "outcome":
                self.gap[np.ix_(units, bundles)] = self._outcome_gap(model, true_all)[
                    np.ix_(units, bundles)]
            # the table is made when asked (observations): a DataFrame per audit was a
            # tenth of a support arm's run in a Sobol' batch, and runs never read it
            self._audits.append((np.array([u for u, _ in names], object),
                                 np.array([b for _, b in names], object),
                                 np.full(len(names), period), true[ui, bj], counts))
            for b in bundles:
                audited = applicable[:, list(bundles).index(b)].sum()
                model.add_cost(self.name, int(b), self.pars["cost_per_audit"] * audited)
        for b in bundles:
            model.levers.push(self.units, b, self.pars["response"] * self.gap[self.units, b])
        self.give_support(model, self.units, support=self.pars["support"],
                          awareness=self.pars["awareness"])

    def _outcome_gap(self, model: ImplementationModel, period_compliance: np.ndarray
                     ) -> np.ndarray:
        """(U, B) gap of the period's harm-rate indicator, relative to week 0, above the target."""
        exposure = harm.exposure_per_patient_week(model.world.bundles)
        args = (model._harm_counted, model._harm_rate, model._harm_rr, exposure)
        now = harm.unit_rate_indicator(*args, period_compliance)
        base = harm.unit_rate_indicator(*args, model.recorder.compliance[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = now / base
        gap = np.clip(ratio - self.pars["target_rate_ratio"], 0.0, 1.0)
        return np.nan_to_num(gap, nan=0.0).astype(np.float32)

    def observations(self, model: ImplementationModel) -> pd.DataFrame:
        """The audits fed back so far, one row per unit, bundle and period.

        The table of :mod:`sim.outcomes.audit`: the same rows ``[measurement]`` and
        ``--spc-units`` give for the same unit and settings.
        """
        if not self._audits:
            return pd.DataFrame(columns=list(audit.COLUMNS))
        units, bundles, periods, true, counts = (np.concatenate(column) for column
                                                 in zip(*self._audits, strict=True))
        return audit.frame(units, bundles, periods, self.pars["interval_weeks"], true,
                           self.pars["sample_size"], counts)
