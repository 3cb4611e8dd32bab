"""`minilab report`, `publish`, `validate_parameters` and the widget Panel, on fast fixture notebooks.

tests/fixtures/sweep.ipynb: parameters beta=0.1, size="nano", fast=True, seed=0; publishes
gold_reward = 1/(1+beta) and kl = 1/(0.05+beta); raises for beta > 5 (a failing run).
tests/fixtures/widget_panel.ipynb: a β slider Panel over a plain function.
Each papermill run takes a few seconds (a kernel start).
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import matplotlib
import nbformat
import papermill
import pytest

from minilab import report
from minilab.nbrun import execute_notebook
from minilab.report import main, parse_value, read_metrics

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
SWEEP = REPO / "tests" / "fixtures" / "sweep.ipynb"
PANEL = REPO / "tests" / "fixtures" / "widget_panel.ipynb"
LIMIT = ["--cell-timeout", "120"]      # a stuck fixture cell fails the test instead of hanging it


@pytest.fixture
def no_runs(monkeypatch):
    """Fail the test if any notebook is executed."""
    def refuse(*args, **kwargs):
        raise AssertionError("a notebook was executed although the input was bad")
    monkeypatch.setattr(papermill, "execute_notebook", refuse)


# ----------------------------------------------------------------------------- sweeps

def test_beta_sweep_writes_one_html_with_both_runs_table_and_plot(tmp_path):
    assert main([str(SWEEP), "--sweep", "beta=0.02,0.2", "--out", str(tmp_path), *LIMIT]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "Run 1: sweep.ipynb (beta=0.02)" in page and "Run 2: sweep.ipynb (beta=0.2)" in page
    assert page.count('class="minilab-table"') == 2                  # parameters and published figures
    assert "0.9804" in page and "0.8333" in page                      # gold_reward of each run, in the table
    assert '<img class="minilab-sweep-plot" alt="published figures across the sweep" src="data:image/png;base64,' in page
    body = page.split("<body", 1)[1]
    assert "jp-InputArea-editor" in body and "validate_parameters" in body   # code shown by default
    assert "https://cdn.jsdelivr.net/npm/@jupyter-widgets" not in page
    assert not scripts_from_the_network(page), scripts_from_the_network(page)
    metrics = [read_metrics(nbformat.read(tmp_path / f"sweep-beta_{b}.ipynb", as_version=4)) for b in ("0.02", "0.2")]
    assert metrics[0]["gold_reward"] == pytest.approx(1 / 1.02) and metrics[1]["kl"] == pytest.approx(4.0)
    assert metrics[1]["size"] == "nano"


def test_failing_run_is_reported_and_the_other_run_survives(tmp_path, capsys):
    assert main([str(SWEEP), "--sweep", "beta=0.2,9", "--out", str(tmp_path), *LIMIT]) == 1
    page = (tmp_path / "report.html").read_text()
    assert "ValueError: fixture: beta=9 is too large" in page and "failed" in page
    assert "0.8333" in page                                           # the good run's figures are there
    assert read_metrics(nbformat.read(tmp_path / "sweep-beta_0.2.ipynb", as_version=4))["kl"] == pytest.approx(4.0)
    assert "1 of 2 run(s) failed" in capsys.readouterr().err


def test_no_input_hides_code(tmp_path):
    assert main([str(SWEEP), "-p", "beta", "0.3", "--no-input", "--out", str(tmp_path), *LIMIT]) == 0
    page = (tmp_path / "report.html").read_text()
    body = page.split("<body", 1)[1]
    assert "jp-InputArea-editor" not in body and "validate_parameters" not in body
    assert "data:image/png;base64," in page                          # the outputs stay


def test_report_all_builds_one_book_in_order(tmp_path, monkeypatch):
    course = tmp_path / "notebooks"
    course.mkdir()
    for name in ("01_second.ipynb", "00_first.ipynb"):
        shutil.copy(SWEEP, course / name)
    monkeypatch.setattr(report, "NOTEBOOKS_DIR", course)
    assert main(["all", "-p", "beta", "0.5", "--out", str(tmp_path / "book"), *LIMIT]) == 0
    page = (tmp_path / "book" / "report.html").read_text()
    assert page.index("Run 1: 00_first.ipynb (beta=0.5)") < page.index("Run 2: 01_second.ipynb (beta=0.5)")
    assert "minilab: the course" in page


# ----------------------------------------------------------------------------- bad input, refused before any run

def test_unknown_parameter_is_refused_with_the_list(tmp_path, capsys, no_runs):
    assert main([str(SWEEP), "-p", "gamma", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no parameter 'gamma'" in err
    assert 'beta=0.1, size="nano", fast=True, seed=0' in err


def test_a_parameter_papermill_cannot_parse_gets_a_hint(tmp_path, capsys, no_runs):
    nb = nbformat.read(SWEEP, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("# random seed", "# tests set SEED=1")   # '=' in a comment
    nbformat.write(nb, tmp_path / "odd.ipynb")
    assert main([str(tmp_path / "odd.ipynb"), "-p", "seed", "1"]) == 2
    assert "papermill cannot parse" in capsys.readouterr().err


@pytest.mark.parametrize("name, value, expected", [("beta", "abc", "float"), ("seed", "1.5", "int"),
                                                   ("fast", "yes", "bool")])
def test_wrong_type_is_refused(tmp_path, capsys, no_runs, name, value, expected):
    assert main([str(SWEEP), "-p", name, value, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"parameter {name} " in err and f"expects {expected}" in err and value in err


@pytest.mark.parametrize("args, name", [(["-p", "beta", "-0.1"], "beta"), (["--sweep", "beta=0.1,-1"], "beta"),
                                        (["-p", "size", "huge"], "size"), (["-p", "seed", "-3"], "seed")])
def test_out_of_range_is_refused_before_running(tmp_path, capsys, no_runs, args, name):
    assert main([str(SWEEP), *args, "--out", str(tmp_path / "out")]) == 2
    assert f"{name}=" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()                            # nothing executed, nothing written


def with_tag(tmp_path) -> Path:
    """The sweep fixture with a string parameter `tag`."""
    nb = nbformat.read(SWEEP, as_version=4)
    nb.cells[1].source += '\ntag = "x"           # a free-form label'
    nbformat.write(nb, tmp_path / "tagged.ipynb")
    return tmp_path / "tagged.ipynb"


def test_values_that_clean_to_one_file_name_get_different_files(tmp_path, no_runs):
    args = report.parse_args([str(with_tag(tmp_path)), "--sweep", "tag=a/b,a_b,A_B,01,1", "--out", str(tmp_path / "out")])
    runs, _, _, _ = report.plan(args)
    assert [r.params["tag"] for r in runs] == ["a/b", "a_b", "A_B", "01", "1"]      # strings kept as typed
    names = [r.output.name for r in runs]
    assert names == ["tagged-tag_a_b.ipynb", "tagged-tag_a_b-2.ipynb", "tagged-tag_A_B-3.ipynb",
                     "tagged-tag_01.ipynb", "tagged-tag_1.ipynb"]
    assert all(r.output.parent == tmp_path / "out" for r in runs)                   # a/b made no sub-folder


@pytest.mark.parametrize("values", ["0.1,0.10,1e-1", "1,1.0", "0.2,0.1,0.2"])
def test_sweep_values_that_parse_equal_are_refused(tmp_path, capsys, no_runs, values):
    assert main([str(SWEEP), "--sweep", f"beta={values}", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--sweep beta:" in err and ("are the same value" in err or "given twice" in err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--cell-timeout", "-5"], "--cell-timeout must be a number of seconds > 0, got -5"),
    (["--cell-timeout", "nan"], "--cell-timeout must be a number of seconds > 0, got nan"),
    (["--cell-timeout", "0"], "--cell-timeout must be a number of seconds > 0, got 0"),
])
def test_bad_cell_timeout_is_refused(tmp_path, capsys, no_runs, args, message):
    assert main([str(SWEEP), *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_out_that_is_a_file_is_refused_and_kept(tmp_path, capsys, no_runs):
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("four years of work")
    assert main([str(SWEEP), "--out", str(thesis)]) == 2
    assert "is an existing file" in capsys.readouterr().err and thesis.read_text() == "four years of work"


def test_out_in_a_read_only_folder_is_refused(tmp_path, capsys, no_runs, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = report.os.access
    monkeypatch.setattr(report.os, "access", lambda path, mode: False if Path(path) == locked else real_access(path, mode))
    assert main([str(SWEEP), "--out", str(locked / "report")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"cannot write in {locked} (read-only)" in err
    assert list(locked.iterdir()) == []


def test_missing_kernel_says_what_to_install(tmp_path, capsys, no_runs, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def no_kernel(self, name):
        raise NoSuchKernel(name)
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", no_kernel)   # a venv without ipykernel
    assert main([str(SWEEP), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'ipykernel" in err and "NoSuchKernel" not in err


def test_a_report_whose_every_run_failed_exits_1_without_claiming_success(tmp_path, capsys):
    assert main([str(SWEEP), "-p", "beta", "9", "--out", str(tmp_path), *LIMIT]) == 1
    out, err = capsys.readouterr()
    assert "wrote" not in out and "executed notebook" not in out
    assert "every run failed (1 of 1)" in err and "beta=9 is too large" in err
    assert (tmp_path / "report.html").exists()                       # the errors are still shown there


def test_int_is_fine_for_a_float_parameter(tmp_path, no_runs):
    args = report.parse_args([str(SWEEP), "-p", "beta", "1", "--sweep", "seed=0,1"])
    runs, swept, _, _ = report.plan(args)
    assert [r.params for r in runs] == [{"seed": 0, "beta": 1}, {"seed": 1, "beta": 1}] and swept == ["seed"]


# ----------------------------------------------------------------------------- the pieces

def scripts_from_the_network(page: str) -> list[str]:
    """Every script the page would fetch: <script src=http...>, import("http...")."""
    return re.findall(r"<script[^>]*\bsrc=[\"']?https?:[^>]*>|import\(\s*[\"']https?:[^)]*\)", page)


def test_formulas_become_mathml_and_the_page_loads_no_script(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("A power law $L = a \\cdot N^{-b}$, and\n\n$$\\sqrt{\\mathrm{KL}} < 2$$\n\n"
                                              "Code keeps its dollars: `echo $HOME`; so does a price, 5 $ or 6 $."),
                nbformat.v4.new_code_cell("print('$x$')", outputs=[nbformat.v4.new_output("stream", text="$x$\n")])]
    nbformat.write(nb, tmp_path / "math.ipynb")
    head, body = report.notebook_html(tmp_path / "math.ipynb", no_input=False)
    assert not scripts_from_the_network(head + body)
    assert body.count("<math") == 2 and 'display="block"' in body and "<msqrt>" in body
    assert "echo $HOME" in body and "5 $ or 6 $" in body and "$x$" in body       # code, prices and outputs untouched




@pytest.mark.parametrize("text", ["True", "False", "None", "3", "-2", "0.5", "1e-3", "nano", "abc"])
def test_parse_value_matches_papermill_cli(text):
    from papermill.cli import _resolve_type
    assert parse_value(text) == _resolve_type(text) and type(parse_value(text)) is type(_resolve_type(text))


def test_panel_runs_reports_errors_and_stays_usable():
    import matplotlib.pyplot as plt
    from ipywidgets import FloatSlider
    from minilab.widgets import Panel

    def run(beta):
        if beta > 0.5:
            raise ValueError(f"beta={beta} too large")
        return beta

    slider = FloatSlider(value=0.1, min=0, max=1)
    panel = Panel(run, {"beta": slider}, lambda result: plt.plot([0, 1], [0, result]), run_on_start=False)
    assert "minilab-beta" in slider._dom_classes and not slider.continuous_update
    slider.value = 0.9                                                # a run triggered by the control
    assert panel.status.value == "error (run 1): ValueError: beta=0.9 too large" and panel.error
    slider.value = 0.2
    assert panel.status.value == "done (run 2)" and panel.result == 0.2 and panel.error is None
    slider.value = 0.8
    with pytest.raises(ValueError):
        panel.run(raise_errors=True)                                  # what the first (default) run does
    plt.close("all")


def test_panel_headless_leaves_clean_output_and_a_static_copy(tmp_path):
    out = tmp_path / "panel.ipynb"
    execute_notebook(PANEL, out, {"beta": 0.3}, progress_bar=False, cwd=str(PANEL.parent), execution_timeout=120)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    panel_outputs = next(c.outputs for c in nb.cells if "Panel(run_curve" in c.source)
    assert "application/vnd.jupyter.widget-view+json" in panel_outputs[0].data
    assert panel_outputs[0].data["text/plain"].startswith("minilab panel (beta)")
    assert "image/png" in panel_outputs[1].data                     # the static copy for GitHub and reports
    assert f"kernel prefix: {sys.prefix}" in "".join(o.get("text", "") for o in outputs)


# ----------------------------------------------------------------------------- the real PPO notebook

def test_ppo_notebook_beta_sweep_fast(tmp_path):
    notebook = REPO / "notebooks" / "07_ppo.ipynb"
    declared = papermill.inspect_notebook(str(notebook))
    assert {"beta", "fast"} <= set(declared), f"07 must declare beta and fast; it declares {list(declared)}"
    assert main([str(notebook), "--sweep", "beta=0.02,0.2", "-p", "fast", "True", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "minilab-sweep-plot" in page
    for beta in ("0.02", "0.2"):
        metrics = read_metrics(nbformat.read(tmp_path / f"{notebook.stem}-beta_{beta}.ipynb", as_version=4))
        assert {"gold_sft", "gold_ppo", "kl"} <= set(metrics), f"07 must publish gold_sft, gold_ppo and kl; it published {metrics}"
