"""Notebook 04's ladder (minilab.emergence): the skill probe, the stored file's checks, and that the
stored ladder still is what the code computes."""
import copy
import json

import pytest
import torch

from minilab import emergence
from minilab.checkpoint import load_checkpoint
from minilab.world import make_world


def test_addition_probe_reads_the_bundled_models_skill():
    """base-micro adds held-out two-digit numbers, base-nano does not: a probe that parsed the answer
    wrongly, or asked in another format, would score both alike."""
    pairs = make_world(0).addition_pairs("test")[:60]
    micro, tok, _ = load_checkpoint("base-micro")
    nano, _, _ = load_checkpoint("base-nano")
    answers = emergence.addition_answers(micro, tok, pairs)
    assert all(a is None or isinstance(a, int) for a in answers)
    assert emergence.addition_accuracy(micro, tok, pairs) >= 0.6
    assert emergence.addition_accuracy(nano, tok, pairs) <= 0.2
    assert emergence.addition_accuracy(nano, tok, emergence.ONE_DIGIT) >= 0.6     # what nano did learn
    assert not micro.training                                                    # the probe leaves the mode as it was
    with pytest.raises(ValueError, match="no pairs"):
        emergence.addition_accuracy(micro, tok, [])


def _fake_runs(settings):
    rung = {"iter": [0], "tokens": [0], "val_loss": [6.0], "add2": [0.0], "add1": [0.0], "params": 1, "flops_per_token": 1}
    return {**emergence.stamp(settings), "rungs": {name: copy.deepcopy(rung) for name in settings["rungs"]}}


def test_save_and_load_round_trip_and_refuse_what_does_not_match(tmp_path):
    path = emergence.save_runs(_fake_runs(emergence.EMERGENCE), tmp_path / "ladder.json")
    assert emergence.load_runs(path)["rungs"]["micro"]["val_loss"] == [6.0]
    assert not list(tmp_path.glob(".*tmp*"))
    other = copy.deepcopy(emergence.EMERGENCE)
    other["iters"] += 1
    with pytest.raises(ValueError, match="other settings.*python -m minilab.emergence"):
        emergence.load_runs(path, settings=other)
    runs = json.loads(path.read_text())
    del runs["rungs"]["w48"]["add2"]
    path.write_text(json.dumps(runs))
    with pytest.raises(ValueError, match="rung 'w48' is missing or incomplete"):
        emergence.load_runs(path)
    runs["checkpoints"]["base-nano"] = "0" * 16
    path.write_text(json.dumps(runs))
    with pytest.raises(ValueError, match="other checkpoints"):
        emergence.load_runs(path)
    path.write_text('{"version": 1, "rungs": ')
    with pytest.raises(ValueError, match="not a stored ladder"):
        emergence.load_runs(path)


def test_the_stored_ladder_matches_the_code():
    """The smallest rung's first 100 steps, trained again now, give the stored numbers: a change to
    pretraining, the corpus, the tokenizer or the probe shows here before notebook 04 draws a stale ladder."""
    stored = emergence.load_runs()         # fails, saying how to refresh it, if the settings or tokenizer changed
    threads = torch.get_num_threads()
    try:
        again = emergence._rung_job(emergence.EMERGENCE, "w16", first_eval_only=True)
    finally:
        torch.set_num_threads(threads)
    rung = stored["rungs"]["w16"]
    assert again["iter"] == rung["iter"][:2] == [0, emergence.EMERGENCE["eval_every"]]
    assert again["val_loss"] == pytest.approx(rung["val_loss"][:2], abs=1e-4)
    assert again["add1"] == rung["add1"][:2] and again["add2"] == rung["add2"][:2]
    assert again["params"] == rung["params"]



def test_the_stored_skill_grid_matches_the_corpus_it_was_trained_on():
    """The grid was trained on the corpus plus the skills' worksheets: its first measurement (the
    untrained model's validation loss on that text) is what the code gives now, so a change to the
    worksheets shows here. Its rungs are the plain ladder's shapes."""
    from minilab.model import GPT
    from minilab.pretrain import PretrainConfig, as_ids, evaluate, train_val_split
    settings = emergence.SKILL_LADDER
    stored = emergence.load_runs(settings=settings)
    _, tok, _ = load_checkpoint(settings["tokenizer"])
    world = make_world(0)
    _, val_ids = train_val_split(tok.encode(emergence.corpus_text(world, settings)))
    n_layer, n_head, n_embd = settings["rungs"]["w32"]
    cfg = PretrainConfig(vocab_size=tok.vocab_size, size=None, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                         block_size=settings["block_size"], eval_iters=settings["eval_iters"])
    torch.manual_seed(settings["seed"])
    loss = evaluate(GPT(cfg.model_config()), as_ids(val_ids), cfg.block_size, cfg.eval_batch_size, cfg.eval_iters)
    assert loss == pytest.approx(stored["rungs"]["w32"]["val_loss"][0], abs=1e-4)
    plain = emergence.load_runs()["rungs"]
    assert all(stored["rungs"][n]["params"] == plain[n]["params"] for n in settings["rungs"])
    assert set(stored["rungs"]["micro"]["grid"]) == {"facts", "one-digit sums", "two-digit sums"} | {
        f"{s}/{f}" for s in ("compare", "count", "reverse") for f in ("written", "spelled")}
