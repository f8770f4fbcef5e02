"""The overview's 24-hour chart as inline SVG, drawn on the server: no script, no CDN."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 180, 40, 22, 10


def hourly_svg(hours: list[dict[str, Any]], *, key: str, bad: str, title: str) -> Markup:
    """Bars per hour: ``key`` (e.g. received) in grey with ``bad`` (e.g. failed) over it in
    red; the scale, every sixth hour and a title for screen readers."""
    top = max([h[key] for h in hours] + [1])
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(len(hours), 1)
    bar = max(step - 3, 1)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        ),
        f'<text x="0" y="{TOP + 8}" class="axis">{top}</text>',
        f'<text x="0" y="{HEIGHT - BOTTOM}" class="axis">0</text>',
        (
            f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}" '
            'class="base"/>'
        ),
    ]
    for i, hour in enumerate(hours):
        x = LEFT + i * step
        for value, css in ((hour[key], "all"), (hour[bad], "bad")):
            height = plot_h * value / top
            parts.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" class="{css}"><title>{escape(hour["hour"][11:16])} UTC: '
                f"{hour[key]} {escape(key)}, {hour[bad]} {escape(bad)}</title></rect>"
            )
        if i % 6 == 0:
            label = datetime.fromisoformat(hour["hour"]).strftime("%H:00")
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 6}" class="axis">{label}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value inside is a number or escaped
