"""The stored runs of notebook 08 (minilab.hacking): Gao et al.'s fit, the file's checks, and that the
stored file still is what the code and the bundled checkpoints compute."""
import copy
import json
import math

import numpy as np
import pytest
import torch

from minilab import checkpoint, hacking


def test_gao_fit_recovers_a_known_curve():
    kl = np.linspace(0.05, 30, 40)
    d = np.sqrt(kl)
    gain = d * (0.8 - 0.5 * np.log(d))                   # α = 0.8, β = 0.5: peaks at d = e^(0.8/0.5 - 1)
    fit = hacking.gao_fit(kl, gain)
    assert fit["alpha"] == pytest.approx(0.8, abs=1e-6) and fit["beta"] == pytest.approx(0.5, abs=1e-6)
    assert fit["r2"] == pytest.approx(1.0) and fit["d_peak"] == pytest.approx(math.exp(0.6))
    assert hacking.gao_curve(fit, d) == pytest.approx(gain)
    noisy = gain + np.random.default_rng(0).normal(0, 0.3, len(kl))
    assert 0.3 < hacking.gao_fit(kl, noisy)["r2"] < 0.99        # noise costs R²; the shape still shows
    line = hacking.gao_fit(kl, 0.1 * kl)                          # a straight rise is no rise-and-fall
    assert line["beta"] < 0 and line["d_peak"] == math.inf


def _fake_runs(settings):
    history = {"iter": [0], "score": [0.0], "gold": [0.0], "kl": [0.0]}
    run = {"history": history, "eval": {"iter": [0], "gold": [0.0]}}
    return {**hacking.stamp(settings), "long": run, "sweep": [copy.deepcopy(run)], "adaptive": copy.deepcopy(run),
            "bon": {"n": [1], "gold": [0.0]}}


def test_save_and_load_round_trip_and_refuse_what_does_not_match(tmp_path):
    path = hacking.save_runs(_fake_runs(hacking.HACKING), tmp_path / "runs.json")
    runs = hacking.load_runs(path)
    assert runs["long"]["history"].gold == [0.0] and runs["sweep"][0]["history"].kl == [0.0]
    assert not list(tmp_path.glob(".*tmp*"))                          # nothing half-written left behind
    other = copy.deepcopy(hacking.HACKING)
    other["long_iters"] += 1
    with pytest.raises(ValueError, match="other settings.*python -m minilab.hacking"):
        hacking.load_runs(path, settings=other)
    stale = json.loads(path.read_text())
    stale["checkpoints"]["rm-micro"] = "0" * 16
    path.write_text(json.dumps(stale))
    with pytest.raises(ValueError, match="other checkpoints"):
        hacking.load_runs(path)
    assert hacking.load_runs(path, check=False)["checkpoints"]["rm-micro"] == "0" * 16
    path.write_text(json.dumps({"version": 1}))
    with pytest.raises(ValueError, match="lack adaptive, bon"):
        hacking.load_runs(path)
    path.write_text('{"version": 1, "long": ')
    with pytest.raises(ValueError, match="not a stored run file"):
        hacking.load_runs(path)


def test_an_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = hacking.save_runs(_fake_runs(hacking.HACKING), tmp_path / "runs.json")
    before = path.read_text()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint.os, "replace", crash)            # where write_json_atomic swaps the file in
    with pytest.raises(KeyboardInterrupt):
        hacking.save_runs({**_fake_runs(hacking.HACKING), "seconds": 1}, path)
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["runs.json"]


@pytest.fixture(scope="module")
def stored():
    return hacking.load_runs()          # fails, saying how to refresh it, if the checkpoints or settings changed


def test_the_stored_runs_match_the_code_and_checkpoints(stored):
    """The first two iterations of the long run, computed again now, are the stored ones: a change to
    PPO, the reward model, sampling or the checkpoints shows here before notebook 08 draws stale runs."""
    threads = torch.get_num_threads()
    try:
        again = hacking._ppo_job(hacking.HACKING, 0.0, 2, eval_every=2)     # held-out gold at iteration 0, then 2
    finally:
        torch.set_num_threads(threads)                                     # the job runs on one thread, as stored
    for key in ("score", "gold", "kl", "entropy"):
        assert again["history"][key] == pytest.approx(stored["long"]["history"][key][:2], abs=1e-3), key
    assert again["eval"]["gold"][0] == pytest.approx(stored["long"]["eval"]["gold"][0], abs=1e-6)


def test_the_stored_runs_hold_what_notebook_08_reads(stored):
    s = hacking.HACKING
    long = stored["long"]
    assert len(long["history"].iter) == s["long_iters"]
    assert long["eval"]["iter"] == list(range(0, s["long_iters"] + 1, s["eval_every"]))
    assert [r["beta"] for r in stored["sweep"]] == s["sweep_betas"]
    assert all(len(r["history"].iter) == s["sweep_iters"] for r in stored["sweep"] + [stored["adaptive"]])
    assert stored["bon"]["n"] == s["bon_ns"] and len(stored["long"]["probe"]) == s["probe_prompts"]
