"""One self-contained HTML page (figures embedded as base64 PNG) and a Markdown summary."""

from __future__ import annotations

import html
import math

__all__ = ["SECTIONS", "page", "fmt", "table_html", "table_markdown"]

# id -> heading; the end-to-end test checks every one of these in the rendered page
SECTIONS = {
    "summary": "Summary",
    "trajectories": "Trajectories on 2-D surfaces",
    "curves": "Loss against steps, gradient evaluations and seconds",
    "targets": "Steps, gradient evaluations and time to target",
    "profiles": "Performance profiles",
    "sensitivity": "Learning-rate sensitivity",
    "schedules": "Schedules",
    "batch": "Batch-size study",
    "diverged": "Diverged runs",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
.diverged { color: #b00; font-weight: bold; } .best { background: #e6f4e6; }
.note { color: #555; font-size: 0.9em; } #image-check { color: #777; font-size: 0.8em; }
"""

_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var el = document.getElementById('image-check');
  el.setAttribute('data-loaded', String(ok));
  el.setAttribute('data-total', String(imgs.length));
  el.textContent = ok + ' of ' + imgs.length + ' images loaded';
});
"""


def fmt(value, digits: int = 3) -> str:
    """A number for a table cell: None -> '-', inf -> 'not reached', else ``digits`` figures.

    Example:
        >>> fmt(None), fmt(math.inf), fmt(0.000123456), fmt(12)
        ('-', 'not reached', '0.000123', '12')
    """
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def table_html(header: list[str], rows: list[list], classes: list[list[str]] | None = None) -> str:
    """An HTML table; cells are escaped, ``classes`` optionally gives a CSS class per cell."""
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = classes[i][j] if classes else ""
            attr = f' class="{cls}"' if cls else ""
            cells.append(f"<td{attr}>{html.escape(str(cell))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table>"


def table_markdown(header: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def image(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def page(title: str, intro: str, sections: dict[str, str]) -> str:
    """Assemble the page: ``sections`` maps a :data:`SECTIONS` id to its HTML body."""
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", intro,
             "<nav><ul>" + "".join(f'<li><a href="#{k}">{v}</a></li>' for k, v in SECTIONS.items())
             + "</ul></nav>"]
    for key, heading in SECTIONS.items():
        parts.append(f'<section id="{key}"><h2>{heading}</h2>\n{sections.get(key, "")}</section>')
    parts.append('<p id="image-check" data-loaded="-1" data-total="-1">images not checked</p>')
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)
