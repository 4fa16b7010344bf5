"""Server-side SVG charts of the dashboard: stacked bars and lines over time buckets, with
labelled axes, ticks, a legend and a text alternative. Pure: no I/O; every text is escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from switchboard.store.dashboard_schemas import Bucket, Chart, Dashboard

__all__ = ["Series", "bar_chart", "charts", "line_chart", "nice_ticks"]

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 30, 58
PALETTE = ("#0b5cad", "#b42318", "#116329", "#8a4b00", "#6639ba", "#0a7f8c", "#57606a")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps up to at least *top* (1, 2, 2.5 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _time_label(at: datetime, bucket: Bucket) -> str:
    return at.strftime("%d %b %H:%M") if bucket == "hour" else at.strftime("%d %b")


def _frame(
    title: str,
    y_label: str,
    x_label: str,
    ticks: list[float],
    starts: Sequence[datetime],
    bucket: Bucket,
) -> list[str]:
    """The chart's title, axes, grid lines, tick labels and axis titles."""
    plot_h, plot_w = HEIGHT - TOP - BOTTOM, WIDTH - LEFT - RIGHT
    out = [f'<text x="{LEFT}" y="18" class="title" font-weight="600">{escape(title)}</text>']
    for t in ticks:
        y = TOP + plot_h - plot_h * t / ticks[-1]
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_fmt(t)}</text>'
        )
    n = max(1, len(starts))
    every = max(1, math.ceil(n / 6))
    for i in range(0, len(starts), every):
        x = LEFT + plot_w * (i + 0.5) / n
        out.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" class="tick">'
            f"{escape(_time_label(starts[i], bucket))}</text>"
        )
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#57606a"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#57606a"/>'
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 22}" text-anchor="middle" class="axis-label">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(14 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle" '
        f'class="axis-label">{escape(y_label)}</text>'
    )
    return out


def _legend(series: Sequence[Series]) -> list[str]:
    out, x = [], LEFT
    for s in series:
        out.append(
            f'<rect x="{x}" y="{HEIGHT - 12}" width="10" height="10" fill="{s.color}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 3}" class="legend">{escape(s.name)}</text>'
        )
        x += 24 + 7 * len(s.name)
    return out


def _svg(chart_id: str, title: str, description: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d" id={quoteattr(chart_id)} '
        'font-family="system-ui, sans-serif" font-size="11" fill="#1b1f24">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>{"".join(body)}</svg>'
    )


def _describe(series: Sequence[Series], starts: Sequence[datetime], bucket: Bucket) -> str:
    parts = []
    for s in series:
        known = [(t, v) for t, v in zip(starts, s.values, strict=True) if v is not None]
        if known:
            peak_at, peak = max(known, key=lambda p: p[1])
            parts.append(
                f"{s.name}: {len(known)} {bucket}s with data, highest {_fmt(peak)} "
                f"({_time_label(peak_at, bucket)})"
            )
        else:
            parts.append(f"{s.name}: no data")
    return "; ".join(parts)


def bar_chart(
    chart_id: str,
    title: str,
    y_label: str,
    starts: Sequence[datetime],
    bucket: Bucket,
    stacks: Sequence[Series],
) -> str:
    """Stacked bars, one per bucket."""
    totals = [sum(s.values[i] or 0 for s in stacks) for i in range(len(starts))]
    ticks = nice_ticks(max(totals, default=0))
    body = _frame(title, y_label, f"session start ({bucket}, UTC)", ticks, starts, bucket)
    plot_h, plot_w = HEIGHT - TOP - BOTTOM, WIDTH - LEFT - RIGHT
    n = max(1, len(starts))
    width = max(1.0, plot_w / n * 0.8)
    for i, start in enumerate(starts):
        x, base = LEFT + plot_w * i / n + plot_w / n * 0.1, float(TOP + plot_h)
        for s in stacks:
            v = s.values[i] or 0
            if not v:
                continue
            h = plot_h * v / ticks[-1]
            base -= h
            label = f"{_time_label(start, bucket)}: {s.name} {_fmt(v)}"
            body.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{s.color}" data-series={quoteattr(s.name)} data-value="{v}">'
                f"<title>{escape(label)}</title></rect>"
            )
    body += _legend(stacks)
    return _svg(chart_id, title, _describe(stacks, starts, bucket), body)


def line_chart(
    chart_id: str,
    title: str,
    y_label: str,
    starts: Sequence[datetime],
    bucket: Bucket,
    series: Sequence[Series],
) -> str:
    """One line per series (broken where a bucket has no value), with a dot per value."""
    top = max((v for s in series for v in s.values if v is not None), default=0.0)
    ticks = nice_ticks(top)
    body = _frame(title, y_label, f"session start ({bucket}, UTC)", ticks, starts, bucket)
    plot_h, plot_w = HEIGHT - TOP - BOTTOM, WIDTH - LEFT - RIGHT
    n = max(1, len(starts))
    for s in series:
        runs: list[list[str]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
                continue
            x, y = LEFT + plot_w * (i + 0.5) / n, TOP + plot_h - plot_h * v / ticks[-1]
            runs[-1].append(f"{x:.1f},{y:.1f}")
            label = f"{_time_label(starts[i], bucket)}: {s.name} {_fmt(v)}"
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{s.color}" '
                f'data-series={quoteattr(s.name)} data-value="{v}"><title>{escape(label)}</title>'
                "</circle>"
            )
        for run in runs:
            if len(run) > 1:
                body.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{s.color}" '
                    'stroke-width="1.5"/>'
                )
    body += _legend(series)
    return _svg(chart_id, title, _describe(series, starts, bucket), body)


def charts(d: Dashboard) -> list[Chart]:
    """The dashboard's charts: calls, cost, latency, tool failure rate, interruptions."""
    starts, bucket, pts = [p.start for p in d.points], d.bucket, d.points
    estimated = " (estimated)" if d.totals.cost_estimated else ""
    made = [
        (
            "calls",
            "Calls: resolved without a human vs escalated",
            bar_chart(
                "chart-calls",
                "Calls: resolved without a human vs escalated",
                "calls",
                starts,
                bucket,
                [
                    Series("resolved", [p.resolved for p in pts], PALETTE[2]),
                    Series("escalated", [p.escalated for p in pts], PALETTE[1]),
                ],
            ),
        ),
        (
            "cost",
            f"Cost (USD){estimated}",
            bar_chart(
                "chart-cost",
                f"Cost (USD){estimated}",
                "USD",
                starts,
                bucket,
                [Series("cost", [_num(p.cost_usd) for p in pts], PALETTE[0])],
            ),
        ),
        (
            "latency",
            "Turn latency p50 / p95",
            line_chart(
                "chart-latency",
                "Turn latency p50 / p95",
                "ms",
                starts,
                bucket,
                [
                    Series("p50", [p.latency_p50_ms for p in pts], PALETTE[0]),
                    Series("p95", [p.latency_p95_ms for p in pts], PALETTE[3]),
                ],
            ),
        ),
        (
            "tools",
            "Tool failure rate by tool",
            line_chart(
                "chart-tools",
                "Tool failure rate by tool",
                "% of calls failed",
                starts,
                bucket,
                [
                    Series(
                        t.tool,
                        [
                            None if p.failure_rate is None else 100 * p.failure_rate
                            for p in t.points
                        ],
                        PALETTE[i % len(PALETTE)],
                    )
                    for i, t in enumerate(d.tools[: len(PALETTE)])
                ],
            ),
        ),
        (
            "interruptions",
            "Interruptions per call",
            line_chart(
                "chart-interruptions",
                "Interruptions per call",
                "interruptions per call",
                starts,
                bucket,
                [Series("interruptions", [p.interruptions_per_call for p in pts], PALETTE[4])],
            ),
        ),
    ]
    return [Chart(id=i, title=title, svg=svg) for i, title, svg in made]


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
