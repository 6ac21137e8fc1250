"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, readable in a screenshot.

Each chart is a grouped bar chart of a few series over the weeks; colours come from
CSS classes (static/backoffice/dashboard.css), so the markup holds no style.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from loyalty.backoffice.formats import grouped

WIDTH = 720
HEIGHT = 200
MARGIN_LEFT = 48
MARGIN_BOTTOM = 22


def axis_label(value: int) -> str:
    """The top of the axis in a few characters (the margin is narrow; bars carry exact
    values in their tooltips): 9,999, 672k, 1.8M (grouped the staff member's way)."""
    if value < 10_000:
        return grouped(value)
    if value < 1_000_000:
        return f"{value / 1000:.0f}k"
    return f"{value / 1_000_000:.1f}M"


def bar_chart(
    *, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], title: str
) -> SafeString:
    """``series``: (name, css class, one value per label). Values are drawn from zero up."""
    top = max([max(values, default=0) for _name, _cls, values in series] + [0]) or 1
    plot_w = WIDTH - MARGIN_LEFT - 8
    plot_h = HEIGHT - MARGIN_BOTTOM - 8
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    bars = []
    for index in range(len(labels)):
        for position, (name, css, values) in enumerate(series):
            value = values[index]
            height = plot_h * value / top
            x = MARGIN_LEFT + index * group_w + group_w * 0.1 + position * bar_w
            bars.append(
                (css, f"{x:.1f}", f"{8 + plot_h - height:.1f}", f"{bar_w:.1f}", f"{height:.1f}",
                 f"{labels[index]} {name}: {grouped(value)}")
            )  # fmt: skip
    step = max(len(labels) // 8, 1)
    ticks = [
        (f"{MARGIN_LEFT + i * group_w + group_w / 2:.1f}", HEIGHT - 6, labels[i])
        for i in range(0, len(labels), step)
    ]
    legend = format_html_join(
        "",
        '<span class="legend {}">{}</span>',
        ((css, name) for name, css, _values in series),
    )
    return format_html(
        '<figure class="chart"><figcaption>{} {}</figcaption>'
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>'
        '<text class="tick" x="{}" y="14" text-anchor="end">{}</text>'
        '<text class="tick" x="{}" y="{}" text-anchor="end">0</text>'
        "{}{}</svg></figure>",
        title,
        legend,
        WIDTH,
        HEIGHT,
        title,
        MARGIN_LEFT,
        8 + plot_h,
        WIDTH - 8,
        8 + plot_h,
        MARGIN_LEFT - 4,
        axis_label(top),
        MARGIN_LEFT - 4,
        8 + plot_h,
        format_html_join(
            "",
            '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
            bars,
        ),
        format_html_join(
            "", '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>', ticks
        ),
    )
