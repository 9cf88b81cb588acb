"""The live model explorer (``implsim explore [SCENARIO]``): a Solara page.

It follows the layout of Mesa's SolaraViz — model settings in the sidebar, step / play / reset
above the model's views — but is built on Solara directly: every field comes from a parameter
declaration and is validated by it, and every figure is a server-drawn PNG, so the page needs
nothing from the internet. The model itself lives in an :class:`~sim.ui.session.ExplorerSession`
per browser tab; the page only renders what it reports.

Views: compliance and adoption per bundle over time, the collaboration network coloured by
adoption (a sample of at most a few hundred staff), SPC p-charts of chosen units, and the cost
and harm averted so far.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import solara
import solara.lab

from sim.errors import InputError
from sim.outcomes.audit import AuditSpec
from sim.outcomes.catalogue import OUTCOMES
from sim.params import P
from sim.scenario import TOP, load_scenario
from sim.ui import figures
from sim.ui.inputs import MAIN_PARAMETERS, model_params, structure_params
from sim.ui.security import confine
from sim.ui.serve import SCENARIO_ENV
from sim.ui.session import DEFAULT_LABEL, ExplorerSession, Readout, find_scenarios
from sim.ui.widgets import Heading, ParamField, PngFigure, Table

COST, HARM = OUTCOMES["cost"], OUTCOMES["harm_averted_vs_baseline"]  # the readout's totals
PLAY_PAUSE = 0.2  # seconds between frames while playing (drawing a frame takes about a second)

#: Fields of the page itself, declared like model parameters so they are checked the same way.
RUN_WEEKS = P("run_weeks", 10, "Weeks simulated by one press of 'Run'.", unit="weeks", low=1,
              high=5200)
FRAME_WEEKS = P("weeks_per_frame", 1, "Weeks simulated between two pictures while playing.",
                unit="weeks", low=1, high=520)
MAX_NODES = P("max_nodes", 300, "Most staff drawn in the network view (a sample by unit).",
              unit="staff", low=10, high=2000)
ALL_BUNDLES = "all bundles (number in use)"


def _load(path: str | None) -> ExplorerSession:
    return ExplorerSession(load_scenario(path))


@solara.component
def Controls(session: ExplorerSession, bump: Any, playing: solara.Reactive[bool],
             frame_weeks: solara.Reactive[int], fail: Any) -> None:
    """Step, run N weeks, play/pause (N weeks per frame) and reset."""
    run_weeks = solara.use_reactive(RUN_WEEKS.default)

    def step(n: int) -> None:
        try:
            session.step(n)
        except Exception as exc:  # a model error must not take the page down
            fail(f"the model failed at week {session.week}: {exc}")
        bump()

    def reset() -> None:
        playing.set(False)
        fail(None)
        session.rebuild()
        bump()

    with solara.Row(gap="8px", classes=["controls"]):
        solara.Button("Step 1 week", on_click=lambda: step(1), disabled=playing.value,
                      color="primary", classes=["btn-step"])
        solara.Button(f"Run {run_weeks.value} weeks", on_click=lambda: step(run_weeks.value),
                      disabled=playing.value, color="primary", classes=["btn-run"])
        solara.Button("Pause" if playing.value else "Play",
                      on_click=lambda: playing.set(not playing.value),
                      disabled=session.finished and not playing.value, classes=["btn-play"])
        solara.Button("Reset", on_click=reset, classes=["btn-reset"])
        with solara.Column(style={"width": "200px"}):
            ParamField(RUN_WEEKS, run_weeks.value, run_weeks.set, slider=False).key("run")
        with solara.Column(style={"width": "200px"}):
            ParamField(FRAME_WEEKS, frame_weeks.value, frame_weeks.set,
                       slider=False).key("frame")


@solara.component
def ReadoutCard(r: Readout, strategy: str) -> None:
    """Week, mean compliance, cost and harm averted so far, and compliance per bundle."""
    with solara.Card(f"Week {r.week} of {r.weeks} — {strategy}", margin=0,
                     classes=["readout"]):
        with solara.Row(gap="32px"):
            solara.Text(f"week {r.week}", classes=["readout-week"])
            solara.Text(f"mean compliance {r.mean_compliance:.3f}",
                        classes=["readout-compliance"])
            solara.Text(f"{COST.label} so far {COST.shown(r.cost):.2f} {COST.display_unit}",
                        classes=["readout-cost"])
            solara.Text(f"{HARM.label} so far {HARM.shown(r.harm_averted):.1f} {HARM.unit}",
                        classes=["readout-harm"])
            solara.Text(f"{r.n_staff:,} staff in {r.n_units} units", classes=["readout-size"])
        Table(["bundle", "compliance", "adoption"],
              [[b.replace("_", " "), f"{c:.3f}", f"{a:.3f}"]
               for b, c, a in zip(r.bundles, r.compliance, r.adoption, strict=True)],
              classes=["readout-bundles"])


@solara.component
def NetworkView(session: ExplorerSession, version: int) -> None:
    """The sampled collaboration network coloured by adoption."""
    bundles = session.model.scenario.bundle_names
    choice = solara.use_reactive(bundles[0])
    max_nodes = solara.use_reactive(MAX_NODES.default)
    which = choice.value if choice.value in [*bundles, ALL_BUNDLES] else bundles[0]

    def draw() -> bytes:
        sample, edges, stages = session.network(max_nodes.value)
        b = None if which == ALL_BUNDLES else bundles.index(which)
        return figures.network_png(sample, edges, stages, bundles, b, session.week)

    png = solara.use_memo(draw, [id(session.model), version, which, max_nodes.value])
    with solara.Row(gap="16px"):
        solara.Select("colour by", values=[*bundles, ALL_BUNDLES], value=which,
                      on_value=choice.set, dense=True, classes=["network-bundle"])
        with solara.Column(style={"width": "260px"}):
            ParamField(MAX_NODES, max_nodes.value, max_nodes.set, slider=False)
    PngFigure(png, "network", f"network_week{session.week}.png")


@solara.component
def SpcView(session: ExplorerSession, version: int) -> None:
    """SPC p-charts of the chosen units' monthly audited compliance for one bundle."""
    bundles = session.model.scenario.bundle_names
    names = session.unit_names()
    units = solara.use_reactive(session.default_spc_units())
    bundle = solara.use_reactive(bundles[0])
    chosen = [u for u in units.value if u in names]
    which = bundle.value if bundle.value in bundles else bundles[0]

    def draw() -> list[tuple[str, bytes | None]]:
        out = []
        for unit in chosen:
            chart = session.spc_chart(unit, which)
            out.append((unit, None if chart is None else figures.spc_png(
                chart, f"{unit} — {which.replace('_', ' ')}")))
        return out

    pngs = solara.use_memo(draw, [id(session.model), version, tuple(chosen), which])
    with solara.Row(gap="16px"):
        solara.SelectMultiple("units", values=chosen, all_values=names, on_value=units.set,
                              dense=True, classes=["spc-units"])
        solara.Select("bundle", values=bundles, value=which, on_value=bundle.set, dense=True)
    if not chosen:
        solara.Info("Choose one or more units to chart.")
    for k, (unit, png) in enumerate(pngs):
        if png is None:
            solara.Info(f"{unit}: not audited — {which} does not apply to this unit.")
        else:
            safe = "".join(c if c.isalnum() else "_" for c in unit)
            PngFigure(png, f"spc-{k}", f"spc_{safe}_{which}_week{session.week}.png")


@solara.component
def Settings(session: ExplorerSession, bump: Any, version: int) -> None:
    """Strategy, size, horizon, seed and behaviour parameters (all from declarations).

    ``version`` is not read: passing it redraws the fields when the session changes.
    """
    def apply(setter: Any, *args: Any) -> None:
        setter(*args)  # InputError propagates to the field that called it
        bump()

    solara.Select("strategy", values=[s.name for s in session.base.strategies],
                  value=session.strategy, on_value=lambda v: apply(session.set_strategy, v),
                  classes=["strategy"])
    if session.generated:
        solara.Checkbox(label="small catchment (fast)", value=session.small,
                        on_value=lambda v: apply(session.set_small, v))
        with solara.Details("Size of the catchment", expand=False):
            for p in structure_params():
                ParamField(p, session.structure[p.name],
                           lambda v, n=p.name: apply(session.set_structure, n, v),
                           slider=False).key(f"structure-{p.name}-{session.small}")
    ParamField(TOP["weeks"], session.weeks, lambda v: apply(session.set_weeks, v),
               slider=False).key("weeks")
    ParamField(TOP["seed"], session.seed, lambda v: apply(session.set_seed, v),
               slider=False).key("seed")
    Heading("Behaviour parameters", 4)
    for p in model_params(MAIN_PARAMETERS):
        ParamField(p, session.parameters[p.name],
                   lambda v, n=p.name: apply(session.set_parameter, n, v)).key(f"main-{p.name}")
    with solara.Details("More parameters", expand=False):
        for p in model_params():
            if p.name in MAIN_PARAMETERS:
                continue
            ParamField(p, session.parameters[p.name],
                       lambda v, n=p.name: apply(session.set_parameter, n, v),
                       slider=False).key(f"more-{p.name}")


@solara.component
def ScenarioPicker(choices: solara.Reactive[dict[str, str | None]],
                   label: solara.Reactive[str]) -> None:
    """Pick a known scenario or open another file by path (checked before it is offered).

    A typed path must lie under the app's root folder (:func:`~sim.ui.security.confine`).
    """
    error = solara.use_reactive(None)

    def open_file(path: str | None) -> None:
        path = (path or "").strip()
        if not path:
            return
        try:
            file = str(confine(path, "scenario file"))
            load_scenario(file)
        except InputError as exc:
            error.set(str(exc))
            return
        error.set(None)
        choices.set({**choices.value, path: file})
        label.set(path)

    solara.Select("scenario", values=list(choices.value), value=label.value,
                  on_value=label.set, classes=["scenario"])
    solara.InputText("open a scenario file (path)", value="", on_value=open_file,
                     error=bool(error.value), message=error.value, dense=True,
                     classes=["scenario-path"])
    if error.value:
        solara.Error(error.value, dense=True, classes=["input-error"])


@solara.component
def Views(session: ExplorerSession, version: int, bump: Any, playing: solara.Reactive[bool],
          frame_weeks: solara.Reactive[int], failure: solara.Reactive[str | None]) -> None:
    """Controls, read-outs and figures of the model of one session."""
    if failure.value:
        solara.Error(failure.value, classes=["model-error"])
    # keyed: the error box above comes and goes, and must not reset their fields
    Controls(session, bump, playing, frame_weeks, failure.set).key("controls")
    readout = session.readout()
    ReadoutCard(readout, session.strategy).key("readout")

    def compliance() -> bytes:
        weeks, series = session.series()
        return figures.compliance_png(weeks, series, readout.bundles, readout.weeks,
                                      f"{session.base.name} — {session.strategy}")

    png = solara.use_memo(compliance, [id(session.model), version])
    with solara.Card("Compliance and adoption per bundle", margin=0):
        PngFigure(png, "compliance", f"compliance_week{readout.week}.png")
    spec = AuditSpec.of(session.model.scenario.measurement)
    period, size = spec.period_weeks, spec.sample_size
    with solara.Row(gap="12px", style={"flex-wrap": "wrap", "align-items": "flex-start"}):
        with solara.Card("Collaboration network", margin=0, style={"flex": "1 1 480px"}):
            NetworkView(session, version)
        with solara.Card(f"SPC charts (audit of {size} patients every {period} weeks)",
                         margin=0, style={"flex": "1 1 560px"}):
            SpcView(session, version)


@solara.component
def Page() -> None:
    """The explorer page."""
    first = os.environ.get(SCENARIO_ENV) or None
    initial = solara.use_memo(lambda: find_scenarios(first), [])
    choices = solara.use_reactive(initial)
    label = solara.use_reactive(next(iter(initial)) if first else DEFAULT_LABEL)
    version = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    frame_weeks = solara.use_reactive(FRAME_WEEKS.default)
    failure = solara.use_reactive(None)

    def load() -> tuple[ExplorerSession | None, str | None]:
        try:
            return _load(choices.value.get(label.value)), None
        except InputError as exc:
            return None, str(exc)

    session, load_error = solara.use_memo(load, [label.value])

    def bump() -> None:
        # The session's own counter, not version.value + 1: play calls this from a worker
        # thread, where reading the reactive value is not reliable.
        if session is not None:
            version.set(session.version)

    # Whether to play is read here, while rendering: the task thread must not read reactive
    # values (it may see a stale one and stop before the first frame).
    go = solara.use_memo(threading.Event, [])
    if playing.value:
        go.set()
    else:
        go.clear()

    def play() -> None:
        # A task thread that carries the page's context, as in Mesa's SolaraViz: each frame
        # steps some weeks, then renders (drawing a frame takes about a second).
        while go.is_set() and session is not None:
            try:
                stepped = session.step(frame_weeks.value)
            except Exception as exc:  # a model error must not take the page down
                failure.set(f"the model failed at week {session.week}: {exc}")
                stepped = 0
            bump()
            if stepped == 0:
                go.clear()
                playing.set(False)
                return
            time.sleep(PLAY_PAUSE)

    solara.lab.use_task(play, dependencies=[playing.value, id(session)], prefer_threaded=True)

    solara.Title("implsim explorer")
    with solara.Sidebar():
        ScenarioPicker(choices, label).key("scenario-picker")
        if session is not None:
            Settings(session, bump, version.value).key(f"settings-{label.value}")
    with solara.Column(classes=["explorer"]):
        Heading("implsim — live model explorer")
        if load_error:
            solara.Error(load_error, classes=["input-error"])
        if session is not None:
            Views(session, version.value, bump, playing, frame_weeks,
                  failure).key(f"views-{label.value}")
