"""Tests of the `minilab` command: bad input ends with one line and exit status 2 (Ctrl-C: 130),
and `minilab pretrain --out` never replaces what the user owns unless --force."""
import subprocess
import sys
from pathlib import Path

import pytest

import minilab.pretrain
from minilab.checkpoint import load_checkpoint
from minilab.cli import main

REPO = Path(__file__).resolve().parent.parent
TEXT = "the quick brown fox jumps over the lazy dog. " * 60
TINY = ["--tokenizer", "char", "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32",
        "--batch-size", "4", "--max-iters", "5", "--eval-interval", "5", "--no-progress", "--json"]


def run(argv, capsys) -> tuple[int, str]:
    """(exit status, stderr) of `minilab ARGV`, run in this process."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse, and pretrain's own error exit
        code = e.code
    return code, capsys.readouterr().err


def tree(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def one_line(err: str) -> str:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


# ---------------------------------------------------------------- bad input: exit 2, one line naming it

def latin1_text(tmp_path):
    path = tmp_path / "thèse-latin1.txt"
    path.write_bytes("la thèse de Zoé, été 2024\n".encode("latin-1") * 50)
    return ["pretrain", "--text", str(path)], [str(path), "not UTF-8", "0xe8", "save it as UTF-8"]


def missing_text(tmp_path):
    return ["pretrain", "--text", str(tmp_path / "nope.txt")], [str(tmp_path / "nope.txt"), "not found", "UTF-8"]


def giant_size(tmp_path):
    return ["pretrain", "--size", "giant", "--tokenizer", "char", "--text", str(tmp_path / "corpus.txt")], \
        ["'giant'", "nano, micro, mini"]


def bad_tokenizer(tmp_path):
    return ["pretrain", "--tokenizer", "words"], ["'words'", "'char', 'bpe'"]


def unknown_command(tmp_path):
    return ["pretrian"], ["'pretrian'", "pretrain", "pipeline"]


@pytest.mark.parametrize("case", [latin1_text, missing_text, giant_size, bad_tokenizer, unknown_command])
def test_bad_input_exits_2_with_a_line_naming_it(tmp_path, text, capsys, case):
    argv, words = case(tmp_path)
    before = tree(tmp_path)
    code, err = run(argv, capsys)
    assert code == 2
    if case in (bad_tokenizer, unknown_command):  # argparse's way: the usage, then the error
        assert "Traceback" not in err
        message = err
    else:
        message = one_line(err)
    for word in words:
        assert word in message, (word, message)
    assert tree(tmp_path) == before


# ---------------------------------------------------------------- --out never replaces what the user owns

def out_is_a_file(root):
    (root / "thesis.txt").write_text("four years of work")
    return "thesis.txt", "it is a file"


def out_is_the_current_folder(root):
    (root / "thesis.txt").write_text("four years of work")
    (root / "figures").mkdir()
    (root / "figures" / "plot.png").write_bytes(b"\x89PNG")
    return ".", "figures, thesis.txt"


def out_is_a_folder_of_work(root):
    (root / "work").mkdir()
    (root / "work" / "thesis.txt").write_text("four years of work")
    return "work", "thesis.txt"


@pytest.mark.parametrize("make", [out_is_a_file, out_is_the_current_folder, out_is_a_folder_of_work])
def test_pretrain_out_refuses_what_is_not_a_checkpoint(tmp_path, text, capsys, monkeypatch, make):
    home = tmp_path / "home"
    home.mkdir()
    out, holds = make(home)
    monkeypatch.chdir(home)
    before = tree(tmp_path)
    code, err = run(["pretrain", "--text", str(text), "--out", out] + TINY, capsys)
    assert code == 2
    message = one_line(err)
    assert message.startswith("minilab pretrain: refusing to replace " + str((home / out).resolve()))
    assert holds in message and "--force" in message
    assert tree(tmp_path) == before


def test_pretrain_force_replaces_it(tmp_path, text, capsys):
    (tmp_path / "thesis.txt").write_text("a draft I meant to overwrite")
    code, _ = run(["pretrain", "--text", str(text), "--out", str(tmp_path / "thesis.txt"), "--force"] + TINY, capsys)
    assert code == 0
    assert load_checkpoint(tmp_path / "thesis.txt")[2]["stage"] == "pretrain"


def test_pretrain_out_is_checked_before_training(tmp_path, text, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(minilab.pretrain, "pretrain", never)
    (tmp_path / "thesis.txt").write_text("four years of work")
    code, err = run(["pretrain", "--text", str(text), "--out", str(tmp_path / "thesis.txt")] + TINY, capsys)
    assert code == 2 and one_line(err).startswith(f"minilab pretrain: refusing to replace {tmp_path / 'thesis.txt'}")
    code, err = run(["pretrain", "--text", str(text), "--out", str(tmp_path / "thesis.txt" / "ck")] + TINY, capsys)
    assert code == 2 and one_line(err).startswith(f"minilab pretrain: cannot write checkpoints to {tmp_path / 'thesis.txt'}")
    assert (tmp_path / "thesis.txt").read_text() == "four years of work"


def ctrl_c_at(monkeypatch, iteration: int):
    """Make the training loop meet Ctrl-C when it fetches the batch of `iteration` (1-based)."""
    real, calls = minilab.pretrain.get_batch, []

    def get_batch(*args):
        calls.append(1)
        if len(calls) == iteration:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(minilab.pretrain, "get_batch", get_batch)


LONGER = [a for a in TINY if a != "--json"] + ["--max-iters", "10", "--eval-interval", "3"]


def test_ctrl_c_keeps_the_weights_of_the_last_evaluation(tmp_path, text, capsys, monkeypatch):
    ctrl_c_at(monkeypatch, 8)                                   # evaluations after iterations 3 and 6
    code, err = run(["pretrain", "--text", str(text), "--out", str(tmp_path / "ck")] + LONGER, capsys)
    assert code == 130
    line = one_line(err)
    assert line.startswith("minilab pretrain: interrupted (Ctrl-C) at iteration 8; saved the weights of iteration 6 (val loss ")
    assert line.endswith(f"to {tmp_path / 'ck'}")
    meta = load_checkpoint(tmp_path / "ck")[2]
    assert meta["metrics"]["interrupted"] is True and meta["stage"] == "pretrain"


def test_ctrl_c_before_the_first_evaluation_writes_nothing_and_says_so(tmp_path, text, capsys, monkeypatch):
    ctrl_c_at(monkeypatch, 2)
    code, err = run(["pretrain", "--text", str(text), "--out", str(tmp_path / "ck")] + LONGER, capsys)
    assert code == 130 and one_line(err) == (f"minilab pretrain: interrupted (Ctrl-C) at iteration 2, before the first "
                                             f"evaluation (every 3 iterations): nothing written to {tmp_path / 'ck'}")
    assert not (tmp_path / "ck").exists()


def test_ctrl_c_without_out_says_nothing_was_saved(tmp_path, text, capsys, monkeypatch):
    ctrl_c_at(monkeypatch, 5)
    code, err = run(["pretrain", "--text", str(text)] + LONGER, capsys)
    assert code == 130 and one_line(err) == "minilab pretrain: interrupted (Ctrl-C) at iteration 5; nothing saved (no --out)"


# ---------------------------------------------------------------- the dispatcher's policy, for every subcommand

@pytest.mark.parametrize("error, code, expected", [
    (ValueError("lr must be > 0,\ngot -1"), 2, "minilab pretrain: lr must be > 0, got -1"),
    (FileNotFoundError("no checkpoint at /x/ck"), 2, "minilab pretrain: no checkpoint at /x/ck"),
    (FileExistsError("refusing to replace /x/thesis.txt"), 2, "minilab pretrain: refusing to replace /x/thesis.txt"),
    (UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"), 2,
     "minilab pretrain: 'utf-8' codec can't decode byte 0xe9 in position 0: invalid continuation byte"),
    (KeyboardInterrupt(), 130, "minilab pretrain: interrupted (Ctrl-C)"),
    (FloatingPointError("training diverged at step 7: the loss became nan;\ntry a lower lr"), 1,
     "minilab pretrain: training diverged at step 7: the loss became nan; try a lower lr"),
])
def test_dispatcher_turns_bad_input_and_ctrl_c_into_one_line(capsys, monkeypatch, error, code, expected):
    def fail(argv):
        raise error

    monkeypatch.setattr(minilab.pretrain, "main", fail)
    status, err = run(["pretrain"], capsys)
    assert status == code and one_line(err) == expected


def test_a_bug_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr(minilab.pretrain, "main", lambda argv: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["pretrain"])


def test_through_python_dash_m_there_is_no_traceback(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café crème\n".encode("latin-1") * 20)
    out = subprocess.run([sys.executable, "-m", "minilab", "pretrain", "--text", str(path)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and str(path) in one_line(out.stderr) and "UTF-8" in out.stderr
