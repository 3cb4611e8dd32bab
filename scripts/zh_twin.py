"""Build or refresh a notebook's Chinese twin in notebooks/zh/ from the English notebook.

The twin has the English notebook's cells in the same order with the same ids. Its code cells are
the English ones, character for character, plus one cell tagged `language` right after the set-up
cell that switches plots and widgets to Chinese (`minilab.i18n.use_language("zh")`); its markdown
cells are the Chinese prose, found by cell id.

    python scripts/zh_twin.py 07                       # refresh code cells from notebooks/07_*.ipynb
    python scripts/zh_twin.py 07 --prose prose.json    # {cell id: Chinese markdown} for new or changed prose

A code cell whose source is unchanged keeps the twin's stored outputs; a changed one is cleared (re-execute
the twin afterwards). An English markdown cell with no Chinese text is an error that names its id:
the twin never shows English prose silently. tests/test_zh.py checks that the code cells stay identical.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LANGUAGE_CELL_ID = "zh-language"
LANGUAGE_SOURCE = ('# 中文版只多这一格：图表和控件上的文字换成中文（其余代码格与英文版逐字相同）\n'
                   'from minilab.i18n import use_language\n'
                   'use_language("zh")')


def english_path(number: str) -> Path:
    found = sorted(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    if len(found) != 1:
        raise SystemExit(f"zh_twin: no single notebook notebooks/{number}_*.ipynb (found {len(found)})")
    return found[0]


def language_cell():
    cell = nbformat.v4.new_code_cell(LANGUAGE_SOURCE)
    cell.id = LANGUAGE_CELL_ID
    cell.metadata["tags"] = ["language"]
    return cell


def setup_index(cells) -> int:
    """The index of the set-up cell (the one that honours MINILAB_FAST); the language cell follows it."""
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and "fast = fast or" in cell.source:
            return i
    raise SystemExit("zh_twin: the English notebook has no set-up cell (`fast = fast or ...`)")


def build(number: str, prose: dict[str, str] | None = None) -> Path:
    en_path = english_path(number)
    zh_path = NOTEBOOKS / "zh" / en_path.name
    en = nbformat.read(en_path, as_version=4)
    old = nbformat.read(zh_path, as_version=4) if zh_path.exists() else None
    chinese = {c.id: c.source for c in old.cells if c.cell_type == "markdown"} if old else {}
    chinese.update(prose or {})
    old_code = {c.id: c for c in old.cells if c.cell_type == "code"} if old else {}

    missing = [c.id for c in en.cells if c.cell_type == "markdown" and not chinese.get(c.id, "").strip()]
    if missing:
        raise SystemExit(f"zh_twin: {zh_path.name} has no Chinese text for the English markdown cells {missing}")

    twin = copy.deepcopy(en)
    for cell in twin.cells:
        if cell.cell_type == "markdown":
            cell.source = chinese[cell.id]
        elif cell.id in old_code and old_code[cell.id].source == cell.source:
            cell.outputs, cell.execution_count = old_code[cell.id].outputs, old_code[cell.id].execution_count
        else:
            cell.outputs, cell.execution_count = [], None
    kept = old_code.get(LANGUAGE_CELL_ID)
    twin.cells.insert(setup_index(twin.cells) + 1, kept if kept and kept.source == LANGUAGE_SOURCE else language_cell())
    twin.metadata["minilab"] = {"language": "zh", "twin_of": f"../{en_path.name}"}
    zh_path.parent.mkdir(exist_ok=True)
    tmp = zh_path.with_suffix(".tmp")
    nbformat.write(twin, tmp)
    tmp.replace(zh_path)
    return zh_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("number", help="the notebook's two digits, e.g. 07")
    parser.add_argument("--prose", type=Path, help="a JSON file {cell id: Chinese markdown}")
    args = parser.parse_args(argv)
    prose = json.loads(args.prose.read_text(encoding="utf-8")) if args.prose else None
    print(build(args.number, prose).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
