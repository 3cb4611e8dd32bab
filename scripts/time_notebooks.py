"""Time every notebook as a student runs it (Restart & Run All) and as the tests run it (fast mode).

    python scripts/time_notebooks.py                  # all twelve, both modes (default runs alone: 15 minutes)
    python scripts/time_notebooks.py 06 07 --modes default
    python scripts/time_notebooks.py --docs           # also write the table into docs/NOTEBOOKS.md

Each run executes the notebook on a fresh kernel with nbclient (as `jupyter nbconvert --execute`
does), through minilab.nbrun's kernel client that cannot sleep through a message, and clocks the
wall time from starting the kernel to the last cell's end. The stored outputs are left alone,
unless --save writes the default-mode run back into the notebook. Fast mode is the tests'
MINILAB_FAST=1. The notebooks choose their own torch threads, as on a student's laptop; run it on
a quiet machine, one notebook at a time. The goals (issue 13): at most 180 s by default, 60 s fast.

The results go to test-artifacts/notebook_times.json, and with --docs into the table between the
markers `<!-- notebook-times -->` and `<!-- /notebook-times -->` of docs/NOTEBOOKS.md, with the
date and the machine.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
GOALS = {"default": 180, "fast": 60}
DOC = REPO / "docs" / "NOTEBOOKS.md"
START, END = "<!-- notebook-times -->", "<!-- /notebook-times -->"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_one(path: Path, mode: str, timeout: int, save: bool = False) -> dict:
    """Execute `path` in `mode` on a fresh kernel; wall seconds, or the error that stopped it.
    save: write the executed notebook back (atomically), as nbconvert --execute --inplace would."""
    import nbformat
    from nbclient import NotebookClient
    from minilab.nbrun import SlicedPollKernelManager
    env_before = os.environ.get("MINILAB_FAST")
    os.environ["MINILAB_FAST"] = "1" if mode == "fast" else "0"     # the kernel inherits it
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", kernel_manager_class=SlicedPollKernelManager,
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    try:
        client.execute()
        seconds = round(time.perf_counter() - t0, 1)
    except Exception as e:             # a failing notebook is a row of the table, not the end of the run
        if hasattr(e, "ename"):       # nbclient's CellExecutionError: the cell's own exception
            what = f"{e.ename}: {e.evalue}"
        else:
            what = f"{type(e).__name__}: {str(e).strip()}"
        return {"seconds": None, "error": what.splitlines()[0][:200] if what else type(e).__name__}
    finally:
        if env_before is None:
            os.environ.pop("MINILAB_FAST", None)
        else:
            os.environ["MINILAB_FAST"] = env_before
    if save:
        tmp = path.with_name(path.name + ".tmp")
        nbformat.write(nb, tmp)
        tmp.replace(path)
    return {"seconds": seconds}


def table(results: dict, modes: list[str]) -> str:
    head = "| notebook | " + " | ".join(f"{m} (goal ≤ {GOALS[m]} s)" for m in modes) + " |"
    lines = [head, "|---|" + "---|" * len(modes)]
    for name, row in results.items():
        cells = []
        for m in modes:
            r = row.get(m)
            if r is None:
                cells.append("–")
            elif r["seconds"] is None:
                cells.append(f"failed ({r['error']})")
            else:
                cells.append(f"{r['seconds']:.0f} s" + ("" if r["seconds"] <= GOALS[m] else " (over)"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {START} ... {END} markers to write the table between")
    before, rest = doc.split(START, 1)
    after = rest.split(END, 1)[1]
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(f"{before}{START}\n{text}\n{END}{after}", encoding="utf-8")
    tmp.replace(DOC)                    # atomic: a crash leaves the old file whole


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("only", nargs="*", help="notebook numbers, e.g. 06 07 (default: all)")
    p.add_argument("--modes", nargs="+", choices=list(GOALS), default=list(GOALS))
    p.add_argument("--timeout", type=int, default=1200, help="seconds per cell before a run counts as failed")
    p.add_argument("--docs", action="store_true", help="write the table into docs/NOTEBOOKS.md")
    p.add_argument("--save", action="store_true", help="store each default-mode run's outputs in its notebook")
    p.add_argument("--json", default=str(REPO / "test-artifacts" / "notebook_times.json"))
    args = p.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        unknown = set(args.only) - {q.name[:2] for q in paths}
        if unknown:
            p.error(f"no notebook numbered {', '.join(sorted(unknown))}; there are {', '.join(q.name[:2] for q in paths)}")
        paths = [q for q in paths if q.name[:2] in args.only]

    results: dict = {}
    for path in paths:
        for mode in args.modes:
            r = time_one(path, mode, args.timeout, save=args.save and mode == "default")
            results.setdefault(path.stem, {})[mode] = r
            print(f"{path.stem:<30} {mode:<8} " + (f"{r['seconds']:.0f} s" if r["seconds"] is not None else r["error"]),
                  flush=True)

    machine = f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    stamp = datetime.date.today().isoformat()
    command = " ".join(["python scripts/time_notebooks.py", *(sys.argv[1:] if argv is None else argv)])
    text = (f"Measured {stamp} with `{command}` on {machine}; each notebook alone on the "
            f"machine, a fresh kernel, its own torch threads.\n\n{table(results, args.modes)}")
    print("\n" + text)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": stamp, "machine": machine, "results": results}, indent=1))
    if args.docs:
        write_docs(text)
    failed = [f"{n} ({m})" for n, row in results.items() for m, r in row.items() if r["seconds"] is None]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
