"""Tests of minilab.pretrain: it learns, its schedule, its evaluation, determinism, errors, the CLI."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minilab.config import SPECIAL_TOKENS
from minilab.optim import TrainingDiverged, lr_at
from minilab.pretrain import PretrainConfig, eval_windows, evaluate, load_text, main, pretrain, train_val_split
from minilab.tokenizer import CharTokenizer

REPO = Path(__file__).resolve().parent.parent
TEXT = "the quick brown fox jumps over the lazy dog. " * 60
TINY = dict(size=None, n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, warmup_iters=5,
            lr=1e-2, min_lr=1e-3, eval_interval=20, seed=0)


def char_data(text=TEXT):
    tok = CharTokenizer.train(text, special_tokens=SPECIAL_TOKENS)
    train_ids, val_ids = train_val_split(tok.encode(text))
    return tok, train_ids, val_ids


def test_loss_drops_well_below_the_unigram_baseline():
    tok, train_ids, val_ids = char_data()
    counts = torch.bincount(torch.tensor(train_ids), minlength=tok.vocab_size).float()
    p = counts[counts > 0] / counts.sum()
    unigram = -(p * p.log()).sum().item()  # loss of the best model that ignores context
    cfg = PretrainConfig(vocab_size=tok.vocab_size, max_iters=60, **TINY)
    model, history = pretrain(cfg, train_ids, val_ids, progress=False)
    assert history["val_loss"][-1] < 0.5 * unigram, (history["val_loss"], unigram)
    assert history["eval_iter"] == [20, 40, 60] and history["iter"] == list(range(1, 61))
    assert history["tokens"][-1] == 60 * 8 * 32
    assert all(len(history[k]) == 60 for k in ("train_loss", "lr", "elapsed", "train_s"))


def test_same_seed_same_losses():
    tok, train_ids, val_ids = char_data()
    cfg = PretrainConfig(vocab_size=tok.vocab_size, max_iters=15, **TINY)
    a, b = (pretrain(cfg, train_ids, val_ids, progress=False)[1] for _ in range(2))
    assert a["train_loss"] == b["train_loss"] and a["val_loss"] == b["val_loss"]


def test_stops_early_at_the_target_and_calls_back():
    tok, train_ids, val_ids = char_data()
    seen = []
    cfg = PretrainConfig(vocab_size=tok.vocab_size, max_iters=500, target_val_loss=10.0, **TINY)
    _, history = pretrain(cfg, train_ids, val_ids, progress=False, callback=lambda h: seen.append(h["val_loss"][-1]))
    assert history["iter"][-1] == 20 and len(seen) == 1


def test_a_subset_that_seems_to_reach_the_target_is_checked_on_the_whole_split(monkeypatch):
    # eval_iters > 0 evaluates the first batches only; whether to stop is the whole split's call
    import minilab.pretrain as pt
    calls = []

    def fake_evaluate(model, ids, block_size, batch_size=128, max_batches=0, spread=False):
        calls.append(max_batches)
        if max_batches:
            return 1.0                               # the subset always looks good enough
        return 1.5 if len(calls) < 6 else 0.5       # the whole split agrees only at the third evaluation

    monkeypatch.setattr(pt, "evaluate", fake_evaluate)
    tok, train_ids, val_ids = char_data()
    cfg = PretrainConfig(vocab_size=tok.vocab_size, max_iters=200, target_val_loss=1.2, eval_iters=2, **TINY)
    _, history = pretrain(cfg, train_ids, val_ids, progress=False)
    assert calls == [2, 0, 2, 0, 2, 0]
    assert history["eval_iter"] == [20, 40, 60] and history["val_loss"] == [1.5, 1.5, 0.5]


def test_warmup_then_cosine_schedule():
    cfg = PretrainConfig(vocab_size=10, lr=1e-3, min_lr=1e-4, warmup_iters=100, max_iters=1100)
    assert lr_at(0, cfg) == pytest.approx(1e-5)
    assert lr_at(49, cfg) == pytest.approx(5e-4)
    assert lr_at(99, cfg) == pytest.approx(1e-3)  # end of warmup: the peak
    assert lr_at(100, cfg) == pytest.approx(1e-3)
    assert lr_at(600, cfg) == pytest.approx(5.5e-4)  # halfway through the cosine: the mean of lr and min_lr
    assert lr_at(1100, cfg) == pytest.approx(1e-4)  # the end: min_lr
    assert lr_at(5000, cfg) == pytest.approx(1e-4)


def test_validation_covers_the_whole_split():
    ids = torch.arange(1000) % 7
    x, y, tail = eval_windows(ids, 64)
    assert x.shape == (15, 64) and tail[0].shape == (1, 999 - 15 * 64)
    targets = torch.cat([y.flatten(), tail[1].flatten()])
    assert torch.equal(targets, ids[1:])  # every token but the first is predicted exactly once

    class Recorder(torch.nn.Module):  # uniform logits: loss = log V exactly
        def __init__(self):
            super().__init__()
            self.rows = 0

        def forward(self, idx):
            self.rows += idx.numel()
            return torch.zeros(*idx.shape, 7)

    rec = Recorder()
    assert evaluate(rec, ids, 64, batch_size=4) == pytest.approx(math.log(7))
    assert rec.rows == 999


def test_a_spread_subset_reads_windows_from_the_whole_split():
    # 1000 tokens make 15 full windows of 64; every token of window w has id w, so a window's first id names it
    ids = torch.arange(1000) // 64

    class Seen(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.firsts = []

        def forward(self, idx):
            self.firsts += idx[:, 0].tolist()   # the windows this batch holds
            return torch.zeros(*idx.shape, 16)

    first, spread = Seen(), Seen()
    evaluate(first, ids, 64, batch_size=2, max_batches=2)
    evaluate(spread, ids, 64, batch_size=2, max_batches=2, spread=True)
    assert first.firsts == [0, 1, 2, 3]
    assert spread.firsts == [0, 5, 9, 14]            # evenly spaced, first and last windows included
    whole, many = Seen(), Seen()
    evaluate(whole, ids, 64, batch_size=8)
    evaluate(many, ids, 64, batch_size=8, max_batches=3, spread=True)   # 24 windows > the split's 15: all of it
    assert many.firsts == whole.firsts
    with pytest.raises(ValueError, match="eval_spread must be True or False"):
        PretrainConfig(vocab_size=10, eval_spread="yes")


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="allowed: nano, micro, mini"):
        PretrainConfig(vocab_size=10, size="huge")
    with pytest.raises(ValueError, match="lr"):
        PretrainConfig(vocab_size=10, lr=-1e-3)
    with pytest.raises(ValueError, match="min_lr"):
        PretrainConfig(vocab_size=10, lr=1e-3, min_lr=1e-2)
    with pytest.raises(ValueError, match="batch_size"):
        PretrainConfig(vocab_size=10, batch_size=0)
    with pytest.raises(ValueError, match="n_layer, n_head and n_embd"):
        PretrainConfig(vocab_size=10, size=None, n_layer=2)
    with pytest.raises(ValueError, match="vocab_size"):
        PretrainConfig().model_config()
    tok, train_ids, val_ids = char_data()
    with pytest.raises(ValueError, match="training split has 10 tokens"):
        pretrain(PretrainConfig(vocab_size=tok.vocab_size, **TINY), train_ids[:10], val_ids, progress=False)


def test_load_text_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-file.txt"):
        load_text(tmp_path / "no-such-file.txt")


def test_divergence_raises_and_keeps_the_last_good_weights():
    tok, train_ids, val_ids = char_data()
    cfg = PretrainConfig(vocab_size=tok.vocab_size, max_iters=40, **TINY)
    model = pretrain(PretrainConfig(vocab_size=tok.vocab_size, max_iters=1, **TINY), train_ids, val_ids, progress=False)[0]
    good = {}

    def poison(history):  # after the first evaluation: remember the weights, then make the loss NaN
        good.update({k: v.clone() for k, v in model.state_dict().items()})
        model.wte.weight.data[0, 0] = float("nan")  # every forward now returns NaN

    with pytest.raises(TrainingDiverged, match="iteration 21") as err:
        pretrain(cfg, train_ids, val_ids, model=model, progress=False, callback=poison)
    assert err.value.model is model
    for k, v in model.state_dict().items():
        assert torch.equal(v, good[k]), k


CLI_TINY = ["--tokenizer", "char", "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32",
            "--batch-size", "4", "--max-iters", "20", "--eval-interval", "10", "--no-progress", "--json"]
KEYS = {"val_loss", "iters", "wall_s", "train_s", "tokens_per_s", "params", "reached_target"}


def test_cli_json_last_line_and_checkpoint(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    assert main(["--text", str(text), "--out", str(tmp_path / "ckpt"), "--target-val-loss", "0.01"] + CLI_TINY) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert KEYS <= set(metrics) and metrics["iters"] == 20 and metrics["reached_target"] is False
    from minilab.checkpoint import load_checkpoint
    model, tok, meta = load_checkpoint(tmp_path / "ckpt")
    assert meta["stage"] == "pretrain" and meta["metrics"]["val_loss"] == metrics["val_loss"]
    assert tok.decode(tok.encode("the lazy dog")) == "the lazy dog"


def test_cli_through_python_dash_m(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "minilab", "pretrain", "--text", str(text)] + CLI_TINY,
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert KEYS <= set(json.loads(out.stdout.strip().splitlines()[-1]))
    missing = subprocess.run([sys.executable, "-m", "minilab", "pretrain", "--text", str(tmp_path / "nope.txt")],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "nope.txt" in missing.stderr
