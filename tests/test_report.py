"""`minilab report`, `publish`, `validate_parameters` and the widget Panel, on fast fixture notebooks.

tests/fixtures/sweep.ipynb: parameters beta=0.1, size="nano", fast=True, seed=0; publishes
gold_reward = 1/(1+beta) and kl = 1/(0.05+beta); raises for beta > 5 (a failing run).
tests/fixtures/widget_panel.ipynb: a β slider Panel over a plain function.
Each papermill run takes a few seconds (a kernel start).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import matplotlib
import nbformat
import papermill
import pytest

from minilab import report
from minilab.nbrun import execute_notebook
from minilab.report import METRICS_MIME, main, parse_value, publish, read_metrics, validate_parameters

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


def test_int_is_fine_for_a_float_parameter(tmp_path, no_runs):
    args = report.parse_args([str(SWEEP), "-p", "beta", "1", "--sweep", "seed=0,1"])
    runs, swept, _, _ = report.plan(args)
    assert [r.params for r in runs] == [{"seed": 0, "beta": 1}, {"seed": 1, "beta": 1}] and swept == ["seed"]


# ----------------------------------------------------------------------------- the pieces

def test_validate_parameters():
    good = dict(beta=0.0, clip_eps=0.2, size="nano", seed=0, fast=False, max_iters=10, lr=3e-4)
    assert validate_parameters(good) is good                          # names without a rule (lr) pass
    with pytest.raises(ValueError) as error:
        validate_parameters(dict(beta=-1, clip_eps=1.0, size="huge", seed=1.5, fast="yes", iters=0))
    for name in ("beta=-1", "clip_eps=1.0", "size='huge'", "seed=1.5", "fast='yes'", "iters=0"):
        assert name in str(error.value)
    with pytest.raises(ValueError, match="clip_eps=0"):
        validate_parameters(dict(clip_eps=0))
    with pytest.raises(ValueError, match="seed=True"):
        validate_parameters(dict(seed=True))


@pytest.mark.parametrize("text", ["True", "False", "None", "3", "-2", "0.5", "1e-3", "nano", "abc"])
def test_parse_value_matches_papermill_cli(text):
    from papermill.cli import _resolve_type
    assert parse_value(text) == _resolve_type(text) and type(parse_value(text)) is type(_resolve_type(text))


def test_publish_displays_json_and_a_table(monkeypatch):
    import IPython.display
    import numpy as np
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    publish({"gold_reward": np.float32(0.5), "kl": 2, "size": "nano"})
    bundle = shown[0]
    assert bundle[METRICS_MIME] == {"gold_reward": 0.5, "kl": 2, "size": "nano"}
    assert "| gold_reward | 0.5 |" in bundle["text/markdown"]
    with pytest.raises(TypeError, match="curve"):
        publish({"curve": [1, 2]})


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
    notebook = next(iter(sorted((REPO / "notebooks").glob("07_*.ipynb"))), None)
    if notebook is None:
        pytest.skip("notebooks/07_ppo.ipynb does not exist yet")
    declared = papermill.inspect_notebook(str(notebook))
    assert {"beta", "fast"} <= set(declared), f"07 must declare beta and fast; it declares {list(declared)}"
    assert main([str(notebook), "--sweep", "beta=0.02,0.2", "-p", "fast", "True", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "minilab-sweep-plot" in page
    for beta in ("0.02", "0.2"):
        metrics = read_metrics(nbformat.read(tmp_path / f"{notebook.stem}-beta_{beta}.ipynb", as_version=4))
        assert {"gold_reward", "kl"} <= set(metrics), f"07 must publish gold_reward and kl; it published {metrics}"
