"""The HTML page of `minilab report`: the runs side by side, their published figures, and every executed notebook.

One self-contained file (images embedded as data URIs) that reads the same without network: the
lab template without its CDN scripts, formulas as MathML (`tex_to_mathml`), widget views as a note.
The runs and the command line are report.py's; this module only renders them.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minilab.notebook import fmt, is_number

if TYPE_CHECKING:
    from minilab.report import Run

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# The lab template without its scripts from a CDN (require.js, MathJax, mermaid): a report must
# read the same in a classroom without network. Formulas are MathML instead (`tex_to_mathml`).
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
# kept as is: code (<pre>, <code>), scripts and styles; converted: $$display$$ and $inline$
_MATH = re.compile(r"(<(pre|code|script|style)\b.*?</\2>)|\$\$([^<]+?)\$\$|\$([^\s$<](?:[^$<\n]*?[^\s$<])?)\$", re.S)


def tex_to_mathml(page: str) -> str:
    """The $...$ and $$...$$ formulas nbconvert leaves in its HTML for MathJax, as MathML, which
    browsers draw without any script; code is left alone, and a formula latex2mathml cannot read
    stays TeX."""
    from latex2mathml.converter import convert

    def one(match):
        if match.group(1):
            return match.group(1)
        display = match.group(3) is not None
        tex = html.unescape(match.group(3) if display else match.group(4))
        try:
            return convert(tex, display="block" if display else "inline")
        except Exception:                                  # its parser raises several kinds; the TeX is still readable
            return match.group(0)
    return _MATH.sub(one, page)


def notebook_html(path: Path, no_input: bool) -> tuple[str, str]:
    """(head, body) of an executed notebook rendered by nbconvert, loading nothing from the network:
    formulas become MathML and widget views a note."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)                       # widget state needs a live kernel or a CDN
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/markdown": "*(interactive panel: open the notebook in JupyterLab to use it)*"}
    exporter = HTMLExporter(template_name="lab", template_file="minilab_offline.html.j2",
                            extra_loaders=[DictLoader({"minilab_offline.html.j2": OFFLINE_TEMPLATE})],
                            embed_images=True, exclude_input=no_input,
                            exclude_input_prompt=no_input, exclude_output_prompt=no_input)
    page, _ = exporter.from_notebook_node(nb)
    head, body = page.split("<body", 1)
    return head.split("<head>", 1)[-1], tex_to_mathml(body.split(">", 1)[1].rsplit("</body>", 1)[0])


def sweep_plot(runs: list[Run], swept: list[str]) -> str:
    """Every numeric metric against a swept parameter, as a PNG data URI ("" when there is nothing to plot)."""
    from matplotlib.figure import Figure                   # not pyplot: leaves the caller's backend alone
    good = [r for r in runs if not r.error]
    names = [m for m in dict.fromkeys(k for r in good for k in r.metrics)
             if m not in swept and all(is_number(r.metrics.get(m)) for r in good)]
    if not swept or not good or not names:
        return ""
    # x: the first swept parameter with numeric values (else the first one); one line per value of the others
    x_name = next((s for s in swept if all(is_number(r.params[s]) for r in runs)), swept[0])
    others = [s for s in swept if s != x_name]
    xs = list(dict.fromkeys(r.params[x_name] for r in runs))
    numeric_x = all(is_number(x) for x in xs)
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(3.6 * ncols, 3.0 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, names):
        for key, group in itertools.groupby(sorted(good, key=lambda r: [str(r.params[o]) for o in others]),
                                            key=lambda r: tuple(r.params[o] for o in others)):
            group = sorted(group, key=lambda r: xs.index(r.params[x_name]))
            x = [r.params[x_name] if numeric_x else xs.index(r.params[x_name]) for r in group]
            label = ", ".join(f"{o}={v}" for o, v in zip(others, key)) or None
            ax.plot(x, [r.metrics[metric] for r in group], "o-", label=label)
        if not numeric_x:
            ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_xlabel(x_name)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class Raw(str):
    """Markup that a table cell must not escape."""


def _table(header: list[str], rows: list[list[Any]]) -> str:
    cell = lambda v: v if isinstance(v, Raw) else html.escape(fmt(v))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="minilab-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def write_html(runs: list[Run], swept: list[str], title: str, command: str, path: Path, no_input: bool) -> None:
    status = lambda r: Raw(f'<span class="bad">failed: {html.escape(r.error)}</span>' if r.error else '<span class="ok">ok</span>')
    params = list(dict.fromkeys([*swept, *(k for r in runs for k in [*r.params, *r.defaults])]))
    value = lambda r, p: r.params[p] if p in r.params else Raw(f'<span class="default">{html.escape(r.defaults.get(p, ""))}</span>')
    metrics = [m for m in dict.fromkeys(k for r in runs for k in r.metrics) if m not in swept]
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p><code>{html.escape(command)}</code><br>{time.strftime('%Y-%m-%d %H:%M')}, "
             f"{len(runs)} run(s), {sum(bool(r.error) for r in runs)} failed</p>",
             "<h2>Runs</h2>",
             "<p>Parameters of each run (grey: the notebook's default).</p>",
             _table(["run", "notebook", *params, "status", "seconds"],
                    [[Raw(f'<a href="#run-{i}">{i}</a>'), r.notebook.name, *[value(r, p) for p in params], status(r),
                      round(r.seconds, 1)] for i, r in enumerate(runs, 1)])]
    if metrics:
        parts += ["<h2>Published figures</h2>",
                  _table(["run", *(swept or ["notebook"]), *metrics],
                         [[i, *([r.params[s] for s in swept] or [r.notebook.name]), *[r.metrics.get(m, "") for m in metrics]]
                          for i, r in enumerate(runs, 1)])]
    plot = sweep_plot(runs, swept)
    if plot:
        parts += [f"<h2>Across the sweep</h2><img class=\"minilab-sweep-plot\" alt=\"published figures across the sweep\" src=\"{plot}\">"]
    head = ""
    for i, r in enumerate(runs, 1):
        parts.append(f'<section id="run-{i}"><h2 class="minilab-run">Run {i}: {html.escape(r.notebook.name)} '
                     f'({html.escape(r.label)})</h2>')
        if r.error:
            parts.append(f'<p class="bad">This run failed: <code>{html.escape(r.error)}</code></p>')
        if r.output.exists():
            head_i, body = notebook_html(r.output, no_input)
            head = head or head_i
            parts.append(body)
        parts.append("</section>")
    style = ("<style>.minilab-report{max-width:1100px;margin:auto;padding:1em;font-family:sans-serif}"
             ".minilab-table{border-collapse:collapse;margin:0.5em 0}.minilab-table td,.minilab-table th"
             "{border:1px solid #ccc;padding:3px 8px;text-align:right}.bad{color:#b00}.ok{color:#070}.default{color:#888}"
             "section{border-top:3px solid #888;margin-top:2em}.minilab-sweep-plot{max-width:100%}</style>")
    head = re.sub(r"<title>.*?</title>", "", head, flags=re.S)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>{head}{style}</head>"
            f"<body><div class=\"minilab-report\">{''.join(parts)}</div></body></html>")
    path.write_text(page, encoding="utf-8")
