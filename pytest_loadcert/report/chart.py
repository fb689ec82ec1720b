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

from pytest_loadcert.status import BLOCKED, CERTIFIED, NOT_CERTIFIED

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pytest_loadcert.certify.model import Certificate

#: Verdict colours, shared with the HTML report so the chart and the page agree.
VERDICT_COLOURS = {
    CERTIFIED: "#1a7f37",
    NOT_CERTIFIED: "#cf222e",
    BLOCKED: "#9a6700",
}
UNKNOWN_COLOUR = "#6e7781"
REQUIRED_COLOUR = "#8c959f"
OBSERVED_COLOUR = "#0969da"
P95_COLOUR = "#8250df"
P99_COLOUR = "#bc4c00"
OVER_COLOUR = VERDICT_COLOURS[NOT_CERTIFIED]


#: The largest value drawn; an axis reaches 6x the largest value, which must stay finite.
MAX_VALUE = 1e300


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
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise ChartError(f"certificate: {field} is {value!r}, not a finite non-negative number")
    if number > MAX_VALUE:  # the axis (6x the largest value) would overflow to inf
        raise ChartError(f"certificate: {field} is {value!r}, too large to draw")
    return number


def _stages(certificate: Certificate) -> list[_Stage]:
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


def _bounds(certificate: Certificate) -> tuple[float | None, float | None]:
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


def _unknown(ax: Axes, x: float, text: str = "unknown") -> None:
    """Mark a gap with the word, at the axis floor (never drawn as a 0 value)."""
    ax.annotate(
        text,
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
    short_any = False
    for i, stage in enumerate(stages):
        short = (
            stage.peak_vus is not None
            and stage.required_vus is not None
            and stage.peak_vus < stage.required_vus
        )
        short_any = short_any or short
        bars = (
            (-width / 2, stage.required_vus, REQUIRED_COLOUR, "//", "required"),
            (width / 2, stage.peak_vus, OVER_COLOUR if short else OBSERVED_COLOUR, None, "peak"),
        )
        for offset, value, colour, hatch, name in bars:
            x = i + offset
            if value is None:
                _unknown(ax, x, f"{name} unknown")
                continue
            ax.bar(
                x,
                value,
                width=width,
                color=colour,
                hatch=hatch,
                edgecolor="white" if hatch else colour,
            )
            ax.annotate(
                _fmt(value),
                xy=(x, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                color=OVER_COLOUR if short and name == "peak" else "black",
                fontweight="bold" if short and name == "peak" else "normal",
            )
    # Required VUs span smoke (tens) to 100k: a log scale keeps every stage readable.
    # symlog keeps a 0 (a stage that reached nobody) drawable, unlike a pure log axis.
    ax.set_yscale("symlog", linthresh=1)
    top = max([v for s in stages for v in (s.required_vus, s.peak_vus) if v is not None] + [1])
    ax.set_ylim(bottom=0, top=top * 6)
    ax.set_ylabel("active VUs")
    ax.set_title("Peak active VUs: required vs observed (k6 vus max)", fontsize=9)
    entries = [("required", REQUIRED_COLOUR, "//"), ("observed peak", OBSERVED_COLOUR, None)]
    if short_any:
        entries.append(("observed peak below required", OVER_COLOUR, None))
    _legend(ax, entries)


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
    series = (
        ("p95", [s.p95_ms for s in stages], p95_max, P95_COLOUR, "o", (6, -9)),
        ("p99", [s.p99_ms for s in stages], p99_max, P99_COLOUR, "s", (6, 3)),
    )
    for name, values, bound, colour, marker, text_offset in series:
        # NaN breaks the line: a stage without a value is a gap, never a point at 0.
        ys = [math.nan if v is None else v for v in values]
        ax.plot(xs, ys, color=colour, marker=marker, linewidth=1.5, markersize=5)
        for x, value in zip(xs, values, strict=True):
            if value is None:
                continue
            over = bound is not None and value > bound
            if over:  # above its bound: ringed and labelled in the failure colour
                ax.plot(
                    [x],
                    [value],
                    marker="o",
                    markersize=11,
                    markerfacecolor="none",
                    markeredgecolor=OVER_COLOUR,
                    markeredgewidth=1.8,
                )
            ax.annotate(
                _fmt(value),
                xy=(x, value),
                xytext=text_offset,
                textcoords="offset points",
                fontsize=7,
                color=OVER_COLOUR if over else colour,
                fontweight="bold" if over else "normal",
            )
        handles.append(Line2D([], [], color=colour, marker=marker, label=name))
        if bound is not None:
            ax.axhline(bound, color=colour, linestyle="--", linewidth=1.2)
            handles.append(
                Line2D([], [], color=colour, linestyle="--", label=f"{name} bound {_fmt(bound)} ms")
            )
        else:
            handles.append(
                Line2D([], [], color=UNKNOWN_COLOUR, linestyle=":", label=f"{name} bound unknown")
            )
    for x, stage in enumerate(stages):
        missing = [n for n, v in (("p95", stage.p95_ms), ("p99", stage.p99_ms)) if v is None]
        if missing:
            _unknown(ax, x, " ".join(missing) + " unknown")
    known = [v for s in stages for v in (s.p95_ms, s.p99_ms) if v is not None]
    known += [b for b in (p95_max, p99_max) if b is not None]
    # Observed latencies are often far below their bounds: a log scale shows both.
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0, top=max([*known, 1]) * 6)
    ax.set_ylabel("ms (successful requests)")
    ax.set_title("http_req_duration p95 / p99 vs bounds", fontsize=9)
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False, ncol=2)


def _figure(certificate: Certificate) -> Figure:
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


def stage_ladder_svg(certificate: Certificate) -> str:
    """The stage-ladder chart of a certificate dict as one standalone ``<svg>`` element.

    ``certificate`` is what :func:`pytest_loadcert.certify.certificate.build` returns (or
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


def stage_ladder_png_base64(certificate: Certificate, dpi: int = 110) -> str:
    """The same chart as a base64-encoded PNG (for a ``data:image/png;base64,`` URL)."""
    with _rc_context():
        fig = _figure(certificate)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")
