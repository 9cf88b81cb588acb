"""Solara components both pages use: a parameter field and a figure with its download button.

A :func:`ParamField` is built from a :class:`~sim.params.Param` declaration (label with unit,
slider over the declared range, a text field for exact values, a select for choices), so the
pages never restate a range. Whatever the user types goes through :func:`sim.ui.inputs.parse`;
a bad value is shown under the field and in an error box, and the model keeps its last good
value — the page stays alive.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import solara

from sim.errors import InputError
from sim.params import Param
from sim.ui.inputs import label, parse, show, slider_range

TABLE_STYLE = "border-collapse: collapse; font-size: 0.9em; margin: 4px 0;"
CELL_STYLE = "padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left;"


def css_name(name: str) -> str:
    """A CSS class fragment for a parameter or figure name (tests select by it)."""
    return "".join(c if c.isalnum() else "-" for c in name).lower()


@solara.component
def ParamField(param: Param, value: Any, on_value: Callable[[Any], None],
               slider: bool = True) -> None:
    """One declared parameter: slider and text field (numbers), select (choices), or text.

    ``on_value`` receives the validated value and may itself raise :class:`InputError` (e.g.
    a structure with no units); both kinds of error are shown here.
    """
    text = solara.use_reactive(show(value))
    error = solara.use_reactive(None)

    def follow_value() -> None:  # a change from elsewhere (slider, reset) updates the text
        text.set(show(value))
        error.set(None)

    solara.use_effect(follow_value, [show(value)])

    def submit(raw: str | None) -> None:
        text.set(raw or "")
        try:
            on_value(parse(param, raw))
        except InputError as exc:
            error.set(str(exc))
        else:
            error.set(None)

    cls = f"param-{css_name(param.name)}"
    with solara.Column(gap="0px", classes=[cls]):
        if param.choices and param.kind == "str":
            solara.Select(label(param), values=list(param.choices), value=value,
                          on_value=lambda v: submit(str(v)), dense=True)
        else:
            if slider and param.kind in ("float", "int"):
                low, high, step = slider_range(param)
                if param.kind == "int":
                    solara.SliderInt("", value=int(value), min=int(low), max=int(high),
                                     step=1, on_value=lambda v: submit(str(v)),
                                     thumb_label=False)
                else:
                    def slid(v: float, step: float = step) -> None:
                        # The slider snaps a value between its steps (0.001 with steps of
                        # 0.005) and reports the snapped one: that is not the user's change.
                        if abs(float(v) - float(value)) > step / 2 + 1e-12:
                            submit(show(float(v)))

                    solara.SliderFloat("", value=float(value), min=low, max=high, step=step,
                                       on_value=slid, thumb_label=False)
            solara.InputText(label(param), value=text.value, on_value=submit,
                             error=bool(error.value), message=error.value, dense=True,
                             classes=[f"{cls}-input"])
        if error.value:
            solara.Error(error.value, dense=True, classes=["input-error"])


@solara.component
def PngFigure(png: bytes, name: str, filename: str) -> None:
    """A PNG figure and a button that downloads the same bytes."""
    cls = f"figure-{css_name(name)}"
    with solara.Column(gap="4px", classes=[cls]):
        solara.Image(png, classes=[f"{cls}-image"])
        with solara.Row(classes=[f"{cls}-download"]):
            solara.FileDownload(png, filename=filename, label="Download PNG",
                                mime_type="image/png")


@solara.component
def Table(header: Sequence[str], rows: Sequence[Sequence[str]], classes: list[str] | None = None
          ) -> None:
    """A plain HTML table (escaped text).

    Not Markdown: Solara's Markdown loads a maths renderer from a CDN, which the offline pages
    must not need.
    """
    head = "".join(f"<th style='{CELL_STYLE}'>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='{CELL_STYLE}'>{html.escape(c)}</td>"
                                    for c in row) + "</tr>" for row in rows)
    solara.HTML(tag="table", unsafe_innerHTML=f"<thead><tr>{head}</tr></thead><tbody>{body}"
                "</tbody>", style=TABLE_STYLE, classes=classes or [])


@solara.component
def Heading(text: str, level: int = 2) -> None:
    """A heading (escaped text; see :func:`Table` for why not Markdown)."""
    solara.HTML(tag=f"h{level}", unsafe_innerHTML=html.escape(text))
