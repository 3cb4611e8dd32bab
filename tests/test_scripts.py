"""The measuring scripts (issue 13): scripts/time_notebooks.py and scripts/bench_pretrain.py's nanoGPT side.

The real runs take tens of minutes; here each script measures something tiny that we control: a
two-cell notebook, and a stand-in for nanoGPT's train.py that prints its log lines.
"""
import importlib.util
import json
import textwrap
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def timer(tmp_path, monkeypatch):
    """time_notebooks pointed at a folder of two small notebooks and a NOTEBOOKS.md of our own."""
    tn = load_script("time_notebooks")
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    ok = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, time\nfast = os.environ.get('MINILAB_FAST') == '1'\ntime.sleep(0 if fast else 1.5)\n"
        "print('ran fast' if fast else 'ran default')")])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('broken on purpose')")])
    nbformat.write(ok, nbs / "00_ok.ipynb")
    nbformat.write(bad, nbs / "01_bad.ipynb")
    doc = tmp_path / "NOTEBOOKS.md"
    doc.write_text(f"# Notebooks\n\n## Timings\n\n{tn.START}\nold table\n{tn.END}\n\nafter\n")
    monkeypatch.setattr(tn, "NOTEBOOKS", nbs)
    monkeypatch.setattr(tn, "DOC", doc)
    return tn, doc


def test_time_notebooks_times_both_modes_and_writes_the_table(timer, tmp_path):
    tn, doc = timer
    out = tmp_path / "times.json"
    assert tn.main(["00", "--docs", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]["00_ok"]
    # the kernel saw MINILAB_FAST: the default run sleeps 1.5 s, the fast one does not
    assert results["default"]["seconds"] >= results["fast"]["seconds"] + 1.0
    text = doc.read_text()
    assert "old table" not in text and text.endswith(f"{tn.END}\n\nafter\n")
    assert "| 00_ok |" in text and "scripts/time_notebooks.py" in text


def test_time_notebooks_reports_a_failing_notebook_and_exits_nonzero(timer, tmp_path, capsys):
    tn, _ = timer
    out = tmp_path / "times.json"
    assert tn.main(["01", "--modes", "fast", "--json", str(out)]) == 1
    row = json.loads(out.read_text())["results"]["01_bad"]["fast"]
    assert row["seconds"] is None and "broken on purpose" in row["error"]
    assert "failed: 01_bad (fast)" in capsys.readouterr().err


def test_time_notebooks_save_stores_the_default_runs_outputs_only(timer, tmp_path):
    tn, _ = timer
    path = tn.NOTEBOOKS / "00_ok.ipynb"
    assert nbformat.read(path, as_version=4).cells[0].outputs == []
    assert tn.main(["00", "--save", "--json", str(tmp_path / "t.json")]) == 0
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [o["text"] for o in outputs] == ["ran default\n"]        # the fast run did not overwrite it


def test_time_notebooks_refuses_an_unknown_number(timer):
    tn, _ = timer
    with pytest.raises(SystemExit):
        tn.main(["42"])


def test_time_notebooks_table_marks_runs_over_the_goal(timer):
    tn, _ = timer
    text = tn.table({"06_x": {"default": {"seconds": 200.0}, "fast": {"seconds": 30.0}}}, ["default", "fast"])
    assert "| 06_x | 200 s (over) | 30 s |" in text


FAKE_TRAIN = """
import sys, time
print("step 0: train loss 4.1000, val loss 4.1000", flush=True)
for it in range(1, 6):
    time.sleep(0.05)
    print(f"iter {it}: loss 3.0, time {50 + it}.00ms, mfu 1.00%", flush=True)
print("step 5: train loss 2.0000, val loss 1.9000", flush=True)
print("step 10: train loss 1.8000, val loss 1.8500", flush=True)
time.sleep(30)      # the bench must stop it here, not wait
print("step 15: train loss 1.7000, val loss 1.7000", flush=True)
"""


def test_bench_reads_nanogpt_log_and_stops_it_at_the_target(tmp_path):
    bp = load_script("bench_pretrain")
    (tmp_path / "train.py").write_text(textwrap.dedent(FAKE_TRAIN))
    r = bp.run_nanogpt(tmp_path, threads=1)
    assert r["iters"] == 10 and r["val_loss"] == 1.85
    assert r["wall_s"] < 20                                   # stopped, not waited for
    assert r["tokens_per_s"] == pytest.approx(12 * 64 / 0.053)   # median of 51..55 ms


def test_bench_says_when_nanogpt_never_reaches_the_target(tmp_path):
    bp = load_script("bench_pretrain")
    (tmp_path / "train.py").write_text('print("step 0: train loss 4.1, val loss 4.1")\n')
    with pytest.raises(RuntimeError, match="never reached val loss 1.886"):
        bp.run_nanogpt(tmp_path, threads=1)


def test_bench_refuses_a_missing_nanogpt(tmp_path, capsys):
    bp = load_script("bench_pretrain")
    assert bp.main(["--nanogpt", str(tmp_path / "nowhere")]) == 2
    assert "nanoGPT's train.py" in capsys.readouterr().err
