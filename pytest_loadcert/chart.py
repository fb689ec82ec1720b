"""The stage-ladder chart: per stage, required vs observed peak active VUs, and p95/p99
latency against the profile's bounds.

Pytest-free. matplotlib is imported inside the functions (it is heavy, and the pytest plugin
must stay cheap to import); the figure is drawn on an Agg/SVG canvas, never a display.
A value the evidence could not give (``None``) is drawn as a gap labelled "unknown",
never as 0.
"""

from __future__ import annotations

import base64
import io
import math
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Verdict colours, shared with the HTML report so the chart and the page agree.
VERDICT_COLOURS = {
    "certified": "#1a7f37",
    "not_certified": "#cf222e",
    "blocked": "#9a6700",
}
UNKNOWN_COLOUR = "#6e7781"
REQUIRED_COLOUR = "#8c959f"
OBSERVED_COLOUR = "#0969da"
P95_COLOUR = "#8250df"
P99_COLOUR = "#bc4c00"


class ChartError(ValueError):
    """The certificate cannot be charted; the message names the field."""


@dataclass(frozen=True)
class _Stage:
    name: str
    verdict: str
    required_vus: float | None
    peak_vus: float | None
    p95_ms: float | None
    p99_ms: float | None


def _number(value: Any, field: str) -> float | None:
    """A finite, non-negative number, or None when the certificate says unknown."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ChartError(f"certificate: {field} is {value!r}, not a number or null")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ChartError(f"certificate: {field} is {value!r}, not a finite non-negative number")
    return number


def _stages(certificate: dict[str, Any]) -> list[_Stage]:
    stages = certificate.get("stages")
    if not isinstance(stages, list):
        raise ChartError("certificate: stages is missing or not a list")
    rows = []
    for index, stage in enumerate(stages):
        where = f"stages[{index}]"
        if not isinstance(stage, dict):
            raise ChartError(f"certificate: {where} is not an object")
        name = stage.get("name")
        if not isinstance(name, str) or not name:
            raise ChartError(f"certificate: {where}.name is missing or not a string")
        verdict = stage.get("verdict")
        rows.append(
            _Stage(
                name=name,
                verdict=verdict if isinstance(verdict, str) else "unknown",
                required_vus=_number(
                    stage.get("required_active_vus"), f"{where}.required_active_vus"
                ),
                peak_vus=_number(stage.get("peak_active_vus"), f"{where}.peak_active_vus"),
                p95_ms=_number(stage.get("p95_ms"), f"{where}.p95_ms"),
                p99_ms=_number(stage.get("p99_ms"), f"{where}.p99_ms"),
            )
        )
    return rows


def _bounds(certificate: dict[str, Any]) -> tuple[float | None, float | None]:
    thresholds = certificate.get("thresholds")
    if thresholds is None:
        return None, None
    if not isinstance(thresholds, dict):
        raise ChartError("certificate: thresholds is not an object")
    return (
        _number(thresholds.get("p95_ms_max"), "thresholds.p95_ms_max"),
        _number(thresholds.get("p99_ms_max"), "thresholds.p99_ms_max"),
    )


def _fmt(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _unknown(ax: Axes, x: float) -> None:
    """Mark a gap: a dashed stub and the word, at the axis floor (never a 0 value)."""
    ax.annotate(
        "unknown",
        xy=(x, 0),
        xycoords=("data", "axes fraction"),
        xytext=(0, 4),
        textcoords="offset points",
        ha="center",
        va="bottom",
        rotation=90,
        fontsize=8,
        color=UNKNOWN_COLOUR,
        fontstyle="italic",
    )


def _stage_ticks(ax: Axes, stages: list[_Stage]) -> None:
    ax.set_xticks(range(len(stages)))
    labels = ax.set_xticklabels(
        [f"{s.name}\n{s.verdict.replace('_', ' ')}" for s in stages], fontsize=8
    )
    for label, stage in zip(labels, stages, strict=True):
        label.set_parse_math(False)  # a stage named "$x" is a name, not TeX
        label.set_color(VERDICT_COLOURS.get(stage.verdict, UNKNOWN_COLOUR))
    ax.set_xlim(-0.6, len(stages) - 0.4)


def _draw_vus(ax: Axes, stages: list[_Stage]) -> None:
    width = 0.38
    for i, stage in enumerate(stages):
        for offset, value, colour, label in (
            (-width / 2, stage.required_vus, REQUIRED_COLOUR, "required"),
            (width / 2, stage.peak_vus, OBSERVED_COLOUR, "observed peak"),
        ):
            x = i + offset
            if value is None:
                _unknown(ax, x)
                continue
            ax.bar(
                x,
                value,
                width=width,
                color=colour,
                hatch="//" if label == "required" else None,
                edgecolor="white" if label == "required" else colour,
                label=label if i == 0 else None,
            )
            ax.annotate(
                _fmt(value),
                xy=(x, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    # Required VUs span smoke (tens) to 100k: a log scale keeps every stage readable.
    # symlog keeps a 0 (a stage that reached nobody) drawable, unlike a pure log axis.
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
    top = max([v for s in stages for v in (s.required_vus, s.peak_vus) if v is not None] + [1])
    ax.set_ylim(top=top * 4)
    ax.set_ylabel("active VUs")
    ax.set_title("Peak active VUs: required vs observed (k6 vus max)", fontsize=9)
    _legend(ax, [("required", REQUIRED_COLOUR, "//"), ("observed peak", OBSERVED_COLOUR, None)])


def _legend(ax: Axes, entries: list[tuple[str, str, str | None]]) -> None:
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=colour, hatch=hatch, edgecolor="white" if hatch else colour, label=name)
        for name, colour, hatch in entries
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)


def _draw_latency(
    ax: Axes, stages: list[_Stage], p95_max: float | None, p99_max: float | None
) -> None:
    from matplotlib.lines import Line2D

    xs = list(range(len(stages)))
    handles: list[Any] = []
    for attr, colour, marker, offset in (
        ("p95_ms", P95_COLOUR, "o", -0.08),
        ("p99_ms", P99_COLOUR, "s", 0.08),
    ):
        # NaN breaks the line: a stage without a value is a gap, never a point at 0.
        ys = [getattr(s, attr) if getattr(s, attr) is not None else math.nan for s in stages]
        ax.plot(xs, ys, color=colour, marker=marker, linewidth=1.5, markersize=5)
        for x, stage in zip(xs, stages, strict=True):
            value = getattr(stage, attr)
            if value is None:
                _unknown(ax, x + offset)
            else:
                ax.annotate(
                    _fmt(value),
                    xy=(x, value),
                    xytext=(6, -3 if attr == "p95_ms" else 3),
                    textcoords="offset points",
                    fontsize=7,
                    color=colour,
                )
        handles.append(Line2D([], [], color=colour, marker=marker, label=attr.replace("_ms", "")))
    for bound, colour, name in (
        (p95_max, P95_COLOUR, "p95 bound"),
        (p99_max, P99_COLOUR, "p99 bound"),
    ):
        if bound is None:
            continue
        ax.axhline(bound, color=colour, linestyle="--", linewidth=1.2)
        ax.annotate(
            f"{name} {_fmt(bound)} ms",
            xy=(1, bound),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7,
            color=colour,
        )
        handles.append(Line2D([], [], color=colour, linestyle="--", label=name))
    values = [v for s in stages for v in (s.p95_ms, s.p99_ms) if v is not None] + [
        b for b in (p95_max, p99_max) if b is not None
    ]
    # Observed latencies are often far below their bounds: a log scale shows both.
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0, top=max([*values, 1]) * 4)
    ax.set_ylabel("ms (successful requests)")
    ax.set_title("http_req_duration p95 / p99 vs bounds", fontsize=9)
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False, ncol=2)


def _figure(certificate: dict[str, Any]) -> Figure:
    from matplotlib.figure import Figure

    stages = _stages(certificate)
    p95_max, p99_max = _bounds(certificate)
    width = max(7.5, 1.1 * len(stages) * 2 + 2)
    fig = Figure(figsize=(width, 3.6), layout="constrained")
    vus_ax, lat_ax = fig.subplots(1, 2)
    if not stages:
        for ax in (vus_ax, lat_ax):
            ax.text(
                0.5,
                0.5,
                "no stages in the certificate",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color=UNKNOWN_COLOUR,
            )
            ax.set_axis_off()
        return fig
    _draw_vus(vus_ax, stages)
    _stage_ticks(vus_ax, stages)
    _draw_latency(lat_ax, stages, p95_max, p99_max)
    _stage_ticks(lat_ax, stages)
    from matplotlib.ticker import FuncFormatter

    for ax in (vus_ax, lat_ax):
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: _fmt(value)))
        ax.grid(axis="y", color="#d0d7de", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def _rc_context() -> AbstractContextManager[None]:
    import matplotlib

    return matplotlib.rc_context(
        {
            # Fixed so two renders of one certificate give the same SVG bytes.
            "svg.hashsalt": "loadcert-stage-ladder",
            "svg.fonttype": "none",  # text stays text: searchable, selectable, small
            "font.family": "DejaVu Sans",
            "font.size": 9.0,
        }
    )


def stage_ladder_svg(certificate: dict[str, Any]) -> str:
    """The stage-ladder chart of a certificate dict as one standalone ``<svg>`` element.

    ``certificate`` is what :func:`pytest_loadcert.certificate.build` returns (or
    ``certificate.json`` loaded). The output is deterministic for a given certificate and
    matplotlib version. Raises :class:`ChartError` naming the field when a value is neither
    a number nor null.
    """
    with _rc_context():
        fig = _figure(certificate)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    start = text.index("<svg")
    return text[start:].strip()


def stage_ladder_png_base64(certificate: dict[str, Any], dpi: int = 110) -> str:
    """The same chart as a base64-encoded PNG (for a ``data:image/png;base64,`` URL)."""
    with _rc_context():
        fig = _figure(certificate)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")
