"""Reports for instructors: run notebooks through papermill, compare runs in one HTML page.

    minilab report notebooks/07_ppo.ipynb --sweep beta=0.02,0.1,0.5 -p fast True
    minilab report notebooks/07_ppo.ipynb --sweep beta=0,0.2 --sweep size=nano,micro   # a 2x2 grid
    minilab report notebooks/03_pretraining.ipynb -p max_iters 500 --no-input          # a handout
    minilab report all --out book/                                                     # the whole course

writes DIR/<notebook>[-name_value...].ipynb for every run and ONE self-contained HTML
file DIR/report.html (images embedded): the runs' parameters side by side, a table
of the figures each run published, those figures plotted against the swept
parameter, then every executed notebook. `--no-input` hides code cells.

Publishing figures. A notebook publishes what a report compares with
`minilab.notebook.publish` in its final cell; this module reads the metrics back from
the executed notebook (`read_metrics`).

Parameters. Notebooks open with a papermill `parameters` cell (tagged), followed by
`minilab.notebook.validate_parameters(...)`, so that plain papermill, nbval and
`minilab report` share one set of rules (`notebook.RULES`). `minilab report` checks
everything before any notebook runs: unknown names (papermill would silently
inject them), values of the wrong type for the notebook's default (parsed like
papermill's CLI: True/False, None, int, float, else a string), and `RULES`.
A run that fails does not stop the others; it is shown in the report with its
error, and the command exits with status 1.

The HTML page is rendered by report_html.py; this module plans, checks and runs.
"""
from __future__ import annotations

import argparse
import ast
import itertools
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# publish and validate_parameters are the notebook layer's; imported here too so that
# `from minilab.report import publish, validate_parameters` keeps working.
from minilab.notebook import METRICS_MIME, fmt, is_number, publish, validate_parameters  # noqa: F401
# the HTML page is report_html.py's; its names stay importable from here
from minilab.report_html import (OFFLINE_TEMPLATE, WIDGET_VIEW, Raw, notebook_html, sweep_plot,  # noqa: F401
                                 tex_to_mathml, write_html)

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"   # what `minilab report all` runs


# ----------------------------------------------------------------------------- parameters

def parse_value(text: str) -> Any:
    """Parse a command-line value the way papermill's CLI does: bool, None, int, float, else str."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read(path: Path):
    import nbformat
    return nbformat.read(path, as_version=4)


def check_against_notebook(notebook: Path, params: dict[str, Any], raw: dict[str, str]) -> dict[str, Any]:
    """Refuse names the notebook's parameters cell lacks and values of the wrong type.

    Returns params with strings restored where the notebook expects a string (e.g. `-p tag 2024`)."""
    import papermill
    declared = papermill.inspect_notebook(str(notebook))
    unknown = [name for name in params if name not in declared]
    if unknown:
        listing = ", ".join(f"{p['name']}={p['default']}" for p in declared.values()) or "none (no cell tagged 'parameters')"
        message = f"{notebook.name} has no parameter {', '.join(map(repr, unknown))}; its parameters: {listing}"
        cell = next((c.source for c in _read(notebook).cells if "parameters" in c.metadata.get("tags", [])), "")
        unparsed = [name for name in unknown if re.search(rf"^{name}\s*[:=]", cell, re.M)]
        if unparsed:                                       # e.g. `fast = False  # tests set X=1`
            message += (f"\n(its parameters cell does assign {', '.join(unparsed)}, but papermill cannot parse that line: "
                        "papermill's parser fails on lines whose comment contains '=')")
        raise ValueError(message)
    checked = {}
    for name, value in params.items():
        try:
            default = ast.literal_eval(declared[name]["default"])
        except (ValueError, SyntaxError):
            checked[name] = value                          # not a literal (e.g. an expression): no type check
            continue
        expected, ok = type(default).__name__, True
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(default, str):
            value = raw.get(name, value) if not isinstance(value, str) else value
        if not ok:
            raise ValueError(f"parameter {name} of {notebook.name} expects {expected} (default {declared[name]['default']}), "
                             f"got {raw.get(name, repr(value))!r}")
        checked[name] = value
    return checked


# ----------------------------------------------------------------------------- runs

@dataclass
class Run:
    notebook: Path
    params: dict[str, Any]                  # the values given on the command line (swept + -p)
    output: Path
    defaults: dict[str, str] = field(default_factory=dict)   # the notebook's parameters cell, as source text
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None                # "ename: evalue" when the notebook raised
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items()) or "defaults"


def read_metrics(nb) -> dict[str, Any]:
    """Merge every `publish` output of an executed notebook (later calls win)."""
    metrics = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            metrics.update(output.get("data", {}).get(METRICS_MIME, {}))
    return metrics


def execute(run: Run, no_input: bool, cell_timeout: float | None = None) -> None:
    """Run one notebook with papermill; record its metrics or its error. Never raises for a failing notebook."""
    import papermill

    from minilab.nbrun import execute_notebook
    # The kernel must import the same minilab as this command, even when it is not pip-installed.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), saved]))
    start = time.perf_counter()
    try:
        execute_notebook(run.notebook, run.output, run.params, cwd=str(run.notebook.parent), progress_bar=False,
                         report_mode=no_input, execution_timeout=cell_timeout)
    except papermill.PapermillExecutionError as error:
        run.error = f"{error.ename}: {error.evalue}"
    except Exception as error:                             # kernel died, timeout, ...
        run.error = f"{type(error).__name__}: {error}"
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    run.seconds = time.perf_counter() - start
    if run.output.exists():
        run.metrics = read_metrics(_read(run.output))


# ----------------------------------------------------------------------------- command line

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="minilab report", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", help="a .ipynb file, or 'all' for every notebook in notebooks/ (one HTML book), "
                                         "or 'zh' for every Chinese notebook in notebooks/zh/")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a parameter for every run (parsed like papermill: True/False/None/int/float/str)")
    parser.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2,...",
                        help="one run per value; several --sweep make a grid")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: reports/<notebook name>)")
    parser.add_argument("--no-input", action="store_true", help="hide code cells (handouts)")
    parser.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                        help="fail a run whose cell runs longer than this (default: no limit)")
    return parser.parse_args(argv)


def check_out(out: Path) -> None:
    """Refuse an output folder that is a file or that this user cannot write in, before any run."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file; give a folder (it is created if missing)")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: cannot write in {parent} (read-only); give a folder you can write to")


def check_kernel() -> None:
    """Refuse to start when no notebook could run: the Jupyter kernel is missing (no ipykernel)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from minilab.nbrun import KERNEL_NAME
    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        raise ValueError(f"no Jupyter kernel {KERNEL_NAME!r} in this environment, so no notebook can run: "
                         "install it with `pip install 'ipykernel>=6.29,<7'` (or `pip install 'minilab[lab]'`)") from None


def output_name(stem: str, swept: dict[str, Any], taken: set[str]) -> str:
    """<stem>-name_value...: only letters, digits and _.=- (a value like a/b must not make a folder),
    and different from every name in `taken` even on a case-insensitive file system (-2, -3, ...)."""
    name = stem + re.sub(r"[^A-Za-z0-9_.=-]", "_", "".join(f"-{k}_{v}" for k, v in swept.items()))
    unique, n = name, 2
    while unique.casefold() in taken:
        unique, n = f"{name}-{n}", n + 1
    taken.add(unique.casefold())
    return unique


def plan(args: argparse.Namespace) -> tuple[list[Run], list[str], str, Path]:
    """Turn the arguments into runs, checking every parameter before anything runs. Raises ValueError."""
    if args.cell_timeout is not None and not (math.isfinite(args.cell_timeout) and args.cell_timeout > 0):
        raise ValueError(f"--cell-timeout must be a number of seconds > 0, got {args.cell_timeout}")
    raw = {name: text for name, text in args.parameter}
    fixed = {name: parse_value(text) for name, text in args.parameter}
    grid: dict[str, list[tuple[str, Any]]] = {}          # name -> [(text, parsed value), ...]
    for spec in args.sweep:
        name, eq, values = spec.partition("=")
        if not eq or not name or not values:
            raise ValueError(f"--sweep expects NAME=V1,V2,..., got {spec!r}")
        if name in fixed or name in grid:
            raise ValueError(f"parameter {name} is given twice (by -p and/or --sweep)")
        grid[name] = [(text, parse_value(text)) for text in values.split(",")]
    whole = args.notebook in ("all", "zh")                  # the whole course, in English or in Chinese
    if whole:
        if grid:
            raise ValueError(f"--sweep needs a single notebook, not {args.notebook!r}")
        folder = NOTEBOOKS_DIR / "zh" if args.notebook == "zh" else NOTEBOOKS_DIR
        notebooks = sorted(folder.glob("[0-9]*.ipynb"))
        if not notebooks:
            raise ValueError(f"no notebooks found in {folder}")
        title, out = (("minilab：课程", args.out or Path("reports/course-zh")) if args.notebook == "zh"
                      else ("minilab: the course", args.out or Path("reports/course")))
    else:
        notebooks = [Path(args.notebook)]
        if not notebooks[0].is_file():
            raise ValueError(f"no such notebook: {args.notebook}")
        title, out = f"minilab report: {notebooks[0].stem}", args.out or Path("reports") / notebooks[0].stem
    check_out(out)
    import papermill
    runs, taken = [], set()
    for nb in notebooks:
        declared = papermill.inspect_notebook(str(nb))
        given = fixed if not whole else {k: v for k, v in fixed.items() if k in declared}
        seen: dict[tuple, dict[str, str]] = {}             # the swept values of a run -> their texts
        for point in itertools.product(*grid.values()):
            texts = {name: text for name, (text, _) in zip(grid, point)}
            params = {**{name: value for name, (_, value) in zip(grid, point)}, **given}
            params = check_against_notebook(nb, params, {**raw, **texts})
            validate_parameters(params)
            key = tuple((k, isinstance(params[k], bool), params[k]) for k in grid)   # 0.1 == 1e-1, True != 1
            if key in seen:                                # e.g. beta=0.1,0.10,1e-1: three identical runs
                name = next((k for k in grid if seen[key][k] != texts[k]), None)
                if name is None:                           # the very same text twice
                    name = next(k for k in grid if [t for t, _ in grid[k]].count(texts[k]) > 1)
                    raise ValueError(f"--sweep {name}: {texts[name]!r} is given twice; give each value once")
                raise ValueError(f"--sweep {name}: {seen[key][name]!r} and {texts[name]!r} are the same value "
                                 f"({params[name]!r}); give each value once")
            seen[key] = texts
            swept = {k: params[k] for k in grid}
            runs.append(Run(nb, params, out / f"{output_name(nb.stem, swept, taken)}.ipynb",
                            defaults={k: p["default"] for k, p in declared.items()}))
    if whole:
        unused = [k for k in fixed if not any(k in r.params for r in runs)]
        if unused:
            raise ValueError(f"no notebook has parameter {', '.join(map(repr, unused))}")
    check_kernel()
    return runs, list(grid), title, out


def main(argv: list[str] | None = None) -> int:
    from tqdm.auto import tqdm
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        runs, swept, title, out = plan(args)
    except ValueError as error:
        print(f"minilab report: error: {' '.join(str(error).splitlines())}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(runs, desc="minilab report", unit="run", file=sys.stderr)
    for run in bar:
        bar.set_postfix_str(f"{run.notebook.stem} {run.label}")
        execute(run, args.no_input, args.cell_timeout)
        bar.write(f"{'FAILED' if run.error else 'ok':>6}  {run.notebook.name} ({run.label}) {run.seconds:.1f}s"
                  + (f": {run.error}" if run.error else ""), file=sys.stderr)
    html_path = out / "report.html"
    command = "minilab report " + " ".join(argv)
    write_html(runs, swept, title, command, html_path, args.no_input)
    failed = [r for r in runs if r.error]
    errors = "; ".join(f"{r.label}: {r.error}" for r in failed)
    if len(failed) == len(runs):
        print(f"minilab report: every run failed ({len(runs)} of {len(runs)}): {errors}; "
              f"their errors are in {html_path}", file=sys.stderr)
        return 1
    print(f"wrote {html_path} ({html_path.stat().st_size / 1e6:.1f} MB) and {len(runs) - len(failed)} "
          f"executed notebook(s) in {out}")
    if failed:
        print(f"minilab report: {len(failed)} of {len(runs)} run(s) failed: {errors}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
