"""The report's HTML: sections with a table of contents, figures, tables, methods, provenance.

One page, inline CSS, no scripts, fonts or network resources; maps are plain
links to their full-size PNG (click to enlarge).
"""

from __future__ import annotations

import html
import json

import pandas as pd

_CSS = """
body { font-family: sans-serif; max-width: 1150px; margin: 1em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.synthetic { background: #fff3cd; border: 1px solid #e0c060; padding: .5em; }
nav.toc { background: #f6f6f6; padding: .3em 1em; display: inline-block; }
nav.toc ol { margin: .3em 0; padding-left: 1.3em; }
.panels { display: flex; flex-wrap: wrap; gap: .8em; }
figure { flex: 1 1 46%; max-width: 49%; margin: 0; }
figure.wide { flex-basis: 70%; max-width: 75%; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #444; }
p.scale { font-size: .85em; color: #444; margin: .2em 0 .6em; }
table.data { border-collapse: collapse; margin: .5em 0 1em; font-size: .85em; }
table.data th, table.data td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: right; }
table.data td { white-space: nowrap; }
table.data td:first-child, table.data th:first-child { text-align: left; }
table.text td, table.text th { text-align: left; white-space: normal; }
.side { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
table.prov th { text-align: left; vertical-align: top; padding-right: 1em; }
table.prov td, table.prov th { border-bottom: 1px solid #eee; font-size: .85em; }
code, pre { font-size: .8em; } pre { white-space: pre-wrap; margin: 0; }
.eq { font-family: serif; font-size: 1.05em; margin: .3em 0 .3em 2em; }
"""


def page(title: str, body: list[str]) -> str:
    """The whole HTML page around ``body``."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def toc(sections: list[tuple[str, str]]) -> str:
    """A table of contents of ``(anchor, heading)`` pairs."""
    items = "".join(f'<li><a href="#{a}">{html.escape(h)}</a></li>' for a, h in sections)
    return f'<nav class="toc"><strong>Contents</strong><ol>{items}</ol></nav>'


def heading(anchor: str, text: str, level: int = 2) -> str:
    """``<h2 id=...>`` (or another level)."""
    return f'<h{level} id="{anchor}">{html.escape(text)}</h{level}>'


def paragraph(text: str) -> str:
    """An escaped paragraph."""
    return f"<p>{html.escape(text)}</p>"


def figure(file: str, caption: str, *, wide: bool = False) -> str:
    """A map or chart linking to its full-size PNG."""
    src, text = html.escape(file), html.escape(caption)
    kind = ' class="wide"' if wide else ""
    return (
        f'<figure{kind}><a href="{src}" title="open full size"><img src="{src}" alt="{text}">'
        f"</a><figcaption>{text} (click to enlarge)</figcaption></figure>"
    )


def panels(items: list[str]) -> str:
    """Figures side by side."""
    return '<div class="panels">' + "".join(items) + "</div>"


def side_by_side(items: list[str]) -> str:
    """Small tables side by side."""
    return '<div class="side">' + "".join(f"<div>{item}</div>" for item in items) + "</div>"


def table(frame: pd.DataFrame, *, anchor: str | None = None, text: bool = False) -> str:
    """A table of strings (numbers already formatted); ``text``: values left-aligned."""
    classes = ["data", "text"] if text else "data"
    markup = frame.to_html(index=False, border=0, classes=classes, escape=True)
    return markup.replace("<table ", f'<table id="{anchor}" ', 1) if anchor else markup


def methods(errors: tuple[float, float | None]) -> str:
    """The methods paragraph with the equations, and the conservation errors."""
    cells, rows = errors
    checks = f"{_power_of_ten(cells)} over cells" + (
        f" and {_power_of_ten(rows)} over MRIO rows" if rows is not None else ""
    )
    return f"""
<p>The multi-regional input–output (MRIO) table gives, for every row (r, i) (region r,
sector i), its CO<sub>2</sub> emissions F, gross output x and the technical coefficients A.
Emission intensities are</p>
<p class="eq">f = F / x,</p>
<p>and the Leontief inverse is</p>
<p class="eq">L = (I − A)<sup>−1</sup>,</p>
<p>applied by solving (I − A) X = Y with one LU factorisation (never formed). The share of
row (r, i)'s emissions driven by the final demand of consumer c is
S[(r, i), c] = f<sub>r,i</sub> X[(r, i), c] / F<sub>r,i</sub>. A grid cell g of region r with
inventory emissions e[s, g] in sector s gets</p>
<p class="eq">footprint[g, c] = Σ<sub>s</sub> e[s, g] Σ<sub>i</sub> w[r, s, i]
S[(r, i), c],</p>
<p>where w[r, s, i] splits inventory sector s over the MRIO sectors i the concordance maps it
to (region r's production emissions of those sectors, normalised). Foreign-driven CO<sub>2</sub>
sums the footprint over the consumers outside the study country, on its cells; domestic-driven
over its own. The land share holding X % is the smallest share of land cells (cells of
producer regions), densest first, whose emissions reach X % of the layer's land total (Yang et
al. 2020 use 75 %); its area at 90 % is the spatial extent of Kanemoto et al. (2016).
Conservation: summed over consumers, every cell's footprint equals its inventory emissions and
every MRIO row's attributed emissions equal its F; the largest relative errors are
{checks}.</p>"""


def _power_of_ten(error: float) -> str:
    """``8.6 × 10<sup>−16</sup>`` for the methods text."""
    if not error:
        return "0"
    mantissa, exponent = f"{float(error):.1e}".split("e")
    return f"{mantissa} × 10<sup>{int(exponent)}</sup>".replace("-", "−")


def provenance(attrs: dict, directory: str) -> str:
    """The store's provenance as tables (package versions, input checksums), config folded."""
    rows = [("results directory", directory)]
    rows += [(k, str(attrs[k])) for k in ("created", "title", "note") if k in attrs]
    parts = [heading("provenance", "Provenance"), _pairs(rows)]
    for key, title in (("package_versions", "Package versions"), ("input_checksums", "Inputs")):
        value = _as_dict(attrs.get(key))
        if value:
            parts.append(heading(key, title, 3) + _pairs(_flat(value).items()))
    config = html.escape(str(attrs.get("config", "")))
    summary = "<summary>Study configuration (TOML)</summary>"
    parts.append(f"<details>{summary}<pre>{config}</pre></details>")
    return "\n".join(parts)


def _pairs(items) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(str(v))}</code></td></tr>"
        for k, v in items
    )
    return f'<table class="prov">{body}</table>'


def _as_dict(value) -> dict:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(str(value)) if value is not None else {}
    except ValueError:
        return {"value": str(value)}
    return parsed if isinstance(parsed, dict) else {"value": str(parsed)}


def _flat(value: dict, prefix: str = "") -> dict[str, str]:
    """Nested dicts as ``{"a.b": "text"}``."""
    flat: dict[str, str] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            flat.update(_flat(item, f"{name}."))
        else:
            flat[name] = str(item)
    return flat
