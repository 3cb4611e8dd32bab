"""Every notebook follows docs/NOTEBOOKS.md: a tagged `parameters` cell first, with plain
literals papermill can read (a `fast` switch and a `seed` among them), prose between the code
cells, stored outputs, and a final `publish(...)`; papermill runs notebooks with a changed parameter."""
import ast
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from minilab.nbrun import execute_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_is_tagged_parameters_with_plain_literals(path):
    nb = nbformat.read(path, as_version=4)
    first = code_cells(nb)[0]
    assert "parameters" in first.metadata.get("tags", []), f"{path.name}: first code cell is not tagged 'parameters'"
    names = {}
    for node in ast.parse(first.source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, f"{path.name}: only `name = literal` lines"
        names[node.targets[0].id] = ast.literal_eval(node.value)   # raises on anything but a literal
    assert names.get("fast") is False, f"{path.name}: needs `fast = False` (CI sets MINILAB_FAST to 1)"
    assert isinstance(names.get("seed"), int), f"{path.name}: needs an integer `seed`"
    # papermill reads the same names (a comment containing '=' would hide a parameter from it)
    assert set(pm.inspect_notebook(str(path))) == set(names), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_story_shape(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("#"), "opens with a title"
    n_prose = sum(c.cell_type == "markdown" for c in nb.cells)
    assert n_prose >= len(code_cells(nb)) // 2, f"{path.name}: {n_prose} prose cells for {len(code_cells(nb))} code cells"
    assert "publish(" in code_cells(nb)[-1].source, f"{path.name}: the last code cell publishes its figures"
    assert any("fast = fast or" in c.source for c in code_cells(nb)[1:3]), f"{path.name}: honours MINILAB_FAST"
    cells = code_cells(nb)
    images = [o for c in cells for o in c.outputs if "image/png" in o.get("data", {})]
    assert sum(bool(c.outputs) for c in cells) >= len(cells) // 2 and images, \
        f"{path.name}: committed without the outputs of a run (readers on GitHub would see no results)"


CHANGED = {"01_tokenization": {"vocab_size": 384}, "02_tiny_gpt": {"size": "nano"}}


@pytest.mark.parametrize("stem", sorted(CHANGED))
def test_papermill_runs_with_a_changed_parameter(stem, tmp_path):
    path = next(p for p in NOTEBOOKS if p.stem == stem)
    out = tmp_path / f"{stem}.ipynb"
    execute_notebook(path, out, {**CHANGED[stem], "fast": True}, cwd=str(path.parent), progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(injected[0].source).body}
    assert values == {**CHANGED[stem], "fast": True}
