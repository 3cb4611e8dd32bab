"""Exercises that check themselves: every notebook's exercises have a checker that refuses wrong
answers, a worked solution in notebooks/solutions/ that passes it (nbval runs them), and a handout
without the solutions."""
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from minilab import i18n
from minilab.exercises import EXERCISES, KINDS, _load, check, hint, show

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = REPO / "notebooks" / "solutions"
CJK = re.compile(r"[\u4e00-\u9fff]")
_load()


def listed_exercises(path: Path) -> int:
    """How many exercises the notebook's '## Exercises' section lists ("1. **Title.** ...")."""
    nb = nbformat.read(path, as_version=4)
    text = next(c.source for c in nb.cells if c.cell_type == "markdown" and "## Exercises" in c.source)
    return len(re.findall(r"^\d+\. \*\*", text.split("## Exercises", 1)[1], flags=re.M))


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.use_language("en")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_of_the_notebook_has_a_checker(path):
    nn = path.name[:2]
    keys = sorted((k for k in EXERCISES if k.startswith(nn + ".")), key=lambda k: int(k.split(".")[1]))
    n = listed_exercises(path)
    assert keys == [f"{nn}.{i}" for i in range(1, n + 1)], f"{path.name} lists {n} exercises; checkers: {keys}"


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_the_checker_refuses_wrong_answers_and_speaks_both_languages(key, capsys):
    ex = EXERCISES[key]
    assert ex.kind in KINDS and ex.wrong
    for answer in ex.wrong:
        assert check(key, answer) is False, f"{key} accepted the wrong answer {answer!r}"
    assert "✗" in capsys.readouterr().out
    for say in (ex.asks, ex.hint, *ex.statements):
        assert say.en and CJK.search(say.zh), f"{key}: every message in English and Chinese"
    if ex.kind == "facts":
        assert ex.statements, f"{key}: a facts exercise lists its statements"
    i18n.use_language("zh")
    check(key, ex.wrong[0])
    assert CJK.search(capsys.readouterr().out), f"{key}: Chinese messages in the Chinese notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_worked_solution_that_calls_its_checker(path):
    nn = path.name[:2]
    sol_path = SOLUTIONS / f"{nn}_solutions.ipynb"
    assert sol_path.exists(), f"no {sol_path.relative_to(REPO)}"
    nb = nbformat.read(sol_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []) and "fast" in code[0].source
    assert any("fast = fast or" in c.source for c in code[1:3]), "honours MINILAB_FAST"
    solved = " ".join(c.source for c in code if "solution" in c.metadata.get("tags", []))
    headings = " ".join(c.source for c in nb.cells if c.cell_type == "markdown" and not c.metadata.get("tags"))
    for key in (k for k in EXERCISES if k.startswith(nn + ".")):
        assert f'assert check("{key}"' in solved, f"{sol_path.name}: no solution cell asserts check({key!r}, ...)"
        assert f"## {key}" in headings, f"{sol_path.name}: the exercise {key} is stated in an untagged cell"
    outputs = [o for c in code for o in c.outputs]
    assert outputs, f"{sol_path.name}: committed without the outputs of a run"
    assert not any(o.get("output_type") == "error" for o in outputs)


def test_a_handout_keeps_the_exercises_and_drops_the_solutions(tmp_path):
    source = SOLUTIONS / "02_solutions.ipynb"
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--TagRemovePreprocessor.enabled=True",
                    "--TagRemovePreprocessor.remove_cell_tags", "solution", str(source), "--output-dir", str(tmp_path),
                    "--output", "handout"], check=True, capture_output=True)
    handout = nbformat.read(tmp_path / "handout.ipynb", as_version=4)
    assert not [c for c in handout.cells if "solution" in c.metadata.get("tags", [])]
    text = " ".join(c.source for c in handout.cells)
    assert all(f"## 02.{i}" in text for i in (1, 2, 3)) and "assert check(" not in text
    assert "nbconvert" in handout.cells[0].source, "the title cell says how the handout was made"


def test_checker_messages_never_carry_the_answer(capsys):
    check("02.2", {1: True, 2: True, 3: True, 4: True})          # statement 2 and 4 are wrong
    out = capsys.readouterr().out
    assert "[2, 4]" in out and "False" not in out
    check("02.3", (8, 320, 3.0))
    assert "10.8" not in capsys.readouterr().out                  # too low, not by how much


def test_unknown_exercises_and_notebooks_are_named():
    with pytest.raises(KeyError, match="the exercises are"):
        check("99.1", 0)
    with pytest.raises(KeyError, match="has no exercises"):
        show("99")
    with pytest.raises(KeyError):
        hint("02.9")


def test_a_checker_that_raises_on_a_students_function_is_a_wrong_answer(capsys):
    from minilab.exercises import Say, first_failure
    assert first_failure(lambda x: x + 1, [((1,), 2)]) is None
    assert isinstance(first_failure(lambda x: x + 1, [((1,), 3)]), Say)
    assert check("10.1", lambda p, G: 1 / 0) is False             # mixed(p, G), run on cases
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_facts_accept_numpy_booleans():
    import numpy as np
    assert check("02.2", {1: np.bool_(True), 2: np.bool_(False), 3: True, 4: False}) is True
