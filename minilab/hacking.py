"""Reward hacking, measured: the runs notebook 08 draws, and how they are stored.

Against one reward model (the RLHF recipe's rm-micro judging the nano policy), four experiments:
- a long PPO run with β = 0, its held-out gold measured every few iterations (does gold rise, then
  fall while the proxy keeps rising?), and Gao et al.'s fit gold(d) = d(α − β_G·log d), d = √KL;
- a β sweep of the same run (the β = 0 point is the long run read at the sweep's length);
- the adaptive KL controller aiming at a target KL;
- best-of-n with the same reward model (no training; KL = log n − (n−1)/n).

Together they take about 50 minutes on two CPU cores: longer than a lesson. So they run once,
`python -m minilab.hacking` (two worker processes, one thread each: same seed, same numbers on the
same machine), and what 08 draws is stored in data/runs/hacking-nano.json beside the checkpoints it
was computed from. Notebook 08 loads that file by default and runs everything again with
recompute=True. The file records a digest of those checkpoints and the experiment's settings;
`load_runs` refuses a file that no longer matches them and says how to refresh it.

    runs = load_runs()                       # or compute_runs() to run them again
    runs["long"]["history"]                  # a PPOHistory
    gao_fit(kl, gold - gold_sft)             # {"alpha", "beta", "r2"}
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from minilab.bestofn import best_of_n, bon_kl, sample_table
from minilab.chat import evaluate_model, sample_responses
from minilab.checkpoint import checkpoint_digest, data_dir, load_checkpoint, write_json_atomic
from minilab.history import PPOHistory
from minilab.pipeline import ppo_against_reward_model
from minilab.ppo import PPOConfig
from minilab.reward import load_reward_model, reward_fn
from minilab.world import make_world

VERSION = 1
# The experiment, in one place. The PPO settings are the RLHF recipe's (pipeline.RLHF_RECIPE) with
# 128 prompts per iteration and 4 epochs, so that 160 iterations fit in the time.
HACKING = {
    "size": "nano", "rm_size": "micro", "seed": 0,
    "ppo": {"batch_size": 128, "epochs": 4, "lr": 1e-4, "clip_eps": 0.2},
    "long_iters": 160, "eval_every": 10,
    "sweep_betas": [0.01, 0.03, 0.1, 0.3], "sweep_iters": 100, "sweep_eval_every": 20,
    "adaptive": {"beta": 0.01, "target_kl": 2.0, "kl_horizon": 256},
    "bon_ns": [1, 2, 4, 8, 16, 32, 64], "bon_prompts": None,      # None: every held-out prompt
    "probe_prompts": 256,
}


def default_path(size: str = "nano") -> Path:
    return data_dir() / "runs" / f"hacking-{size}.json"


def stamp(settings: dict) -> dict:
    """The checkpoints' digests and the settings: a stored file is valid while they match."""
    return {"version": VERSION, "settings": settings,
            "checkpoints": {n: checkpoint_digest(n) for n in (f"sft-{settings['size']}", f"rm-{settings['rm_size']}")}}


# ---------------------------------------------------------------- Gao et al.'s functional form
def gao_fit(kl, gain) -> dict:
    """Least squares of gain ≈ d(α − β·log d), d = √KL (Gao et al. 2022, RL form; no intercept:
    the SFT model, at d = 0, gains nothing). Returns α, β, R² and the d at which the fit peaks (e^(α/β − 1))."""
    d = np.sqrt(np.clip(np.asarray(kl, dtype=float), 1e-9, None))
    y = np.asarray(gain, dtype=float)
    X = np.stack([d, -d * np.log(d)], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(X, y, rcond=None)
    residual = y - X @ np.array([alpha, beta])
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - (residual ** 2).sum() / total if total > 0 else float("nan")
    peak = math.exp(alpha / beta - 1.0) if beta > 0 else float("inf")
    return {"alpha": float(alpha), "beta": float(beta), "r2": float(r2), "d_peak": peak}


def gao_curve(fit: dict, d) -> np.ndarray:
    d = np.clip(np.asarray(d, dtype=float), 1e-9, None)
    return d * (fit["alpha"] - fit["beta"] * np.log(d))


# ---------------------------------------------------------------- the runs
def _setup(settings):
    torch.set_num_threads(1)
    sft, tok, meta = load_checkpoint(f"sft-{settings['size']}")
    rm, _, _ = load_reward_model(f"rm-{settings['rm_size']}")
    world = make_world(meta.get("seed", 0))
    return sft, rm, tok, world


def _heldout(world):
    return [q.prompt for q in world.questions("heldout")]


def _history_dict(h: PPOHistory) -> dict:
    return {f.name: getattr(h, f.name) for f in fields(h)}


def _ppo_job(settings: dict, beta: float, iters: int, eval_every: int = 0, adaptive: dict | None = None,
             probe: list[str] | None = None, log: str = "") -> dict:
    """One PPO run from the SFT model; held-out gold and proxy every `eval_every` iterations (and at
    the end); replies to the `probe` prompts at the end; a line every 10 iterations if `log` names the run."""
    sft, rm, tok, world = _setup(settings)
    heldout = _heldout(world)
    score = reward_fn(rm, tok)
    knobs = dict(settings["ppo"])
    if adaptive:
        knobs.update(adaptive_kl=True, target_kl=adaptive["target_kl"], kl_horizon=adaptive["kl_horizon"])
        beta = adaptive["beta"]
    cfg = PPOConfig(beta=beta, iters=iters, seed=settings["seed"], **knobs)
    policy = copy.deepcopy(sft)
    evals = {"iter": [], "gold": [], "score": [], "well_formed": []}

    def evaluate(done):
        figures, samples = evaluate_model(policy, tok, world, heldout, seed=settings["seed"])
        evals["iter"].append(done)
        evals["gold"].append(figures["gold"])
        evals["well_formed"].append(figures["well_formed"])
        evals["score"].append(score(samples).mean().item())

    def callback(history):
        done = len(history.iter)
        if eval_every and done % eval_every == 0 and done < iters:
            evaluate(done)
        if log and done % 10 == 0:
            print(f"  {log}: iteration {done}: KL {history.kl[-1]:.2f}, proxy {history.score[-1]:+.2f}, gold {history.gold[-1]:+.2f}"
                  + (f"; held-out gold {evals['gold'][-1]:+.2f}" if evals["iter"] and evals["iter"][-1] == done else ""), flush=True)

    t = time.perf_counter()
    if eval_every:
        evaluate(0)
    _, history = ppo_against_reward_model(cfg, sft, rm, tok, world, progress=False, callback=callback,
                                          value_from_rm=True, policy=policy)
    evaluate(iters)
    out = {"beta": beta, "iters": iters, "history": _history_dict(history), "eval": evals,
           "seconds": round(time.perf_counter() - t, 1)}
    if probe:
        out["probe"] = [(s.response, s.ended) for s in sample_responses(policy, tok, probe, seed=settings["seed"] + 1)]
    return out


def _bon_job(settings: dict) -> dict:
    """Best-of-n of the SFT model with the reward model on held-out prompts, and the SFT model's
    held-out gold and replies to the probe prompts."""
    sft, rm, tok, world = _setup(settings)
    t = time.perf_counter()
    heldout = _heldout(world)
    prompts = heldout[:settings["bon_prompts"]]
    ns = settings["bon_ns"]
    table = sample_table(sft, rm, tok, world, prompts, n=max(ns), seed=settings["seed"])
    picked = best_of_n(table, ns, seed=settings["seed"])
    oracle = {n: table.gold[:, :n].max(1).values.mean().item() for n in ns}
    figures, samples = evaluate_model(sft, tok, world, heldout, seed=settings["seed"])
    probe = probe_prompts(world, settings)
    return {"n": ns, "kl": [bon_kl(n) for n in ns], "gold": [picked[n] for n in ns],
            "gold_oracle": [oracle[n] for n in ns], "prompts": len(prompts),
            "sft": {"gold": figures["gold"], "well_formed": figures["well_formed"],
                    "score": reward_fn(rm, tok)(samples).mean().item()},
            "probe_sft": [(s.response, s.ended) for s in sample_responses(sft, tok, probe, seed=settings["seed"] + 1)],
            "seconds": round(time.perf_counter() - t, 1)}


def probe_prompts(world, settings: dict) -> list[str]:
    """The training prompts whose replies 08 profiles (SFT model vs the β = 0 policy)."""
    import random
    return [q.prompt for q in random.Random(settings["seed"]).sample(world.questions("train"), settings["probe_prompts"])]


def compute_runs(settings: dict | None = None, workers: int = 2, progress: bool = True) -> dict:
    """Run every experiment of notebook 08 (about 50 minutes with 2 workers); returns the dict
    save_runs stores. Each run uses one thread, so its numbers do not depend on `workers`."""
    settings = copy.deepcopy(settings or HACKING)
    world = make_world(load_checkpoint(f"sft-{settings['size']}")[2].get("seed", 0))
    probe = probe_prompts(world, settings)
    log = lambda name: name if progress else ""
    jobs = {"long": (_ppo_job, settings, 0.0, settings["long_iters"], settings["eval_every"], None, probe, log("long")),
            "bon": (_bon_job, settings)}
    for b in settings["sweep_betas"]:
        jobs[f"beta={b:g}"] = (_ppo_job, settings, b, settings["sweep_iters"], settings["sweep_eval_every"], None, None,
                               log(f"beta={b:g}"))
    jobs["adaptive"] = (_ppo_job, settings, 0.0, settings["sweep_iters"], 0, settings["adaptive"], None, log("adaptive"))
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(*job) for name, job in jobs.items()}
        results = {}
        for name, future in futures.items():
            results[name] = future.result()
            if progress:
                print(f"hacking runs: {name} done ({results[name]['seconds']:.0f} s; {time.perf_counter() - t:.0f} s so far)",
                      flush=True)
    long = results.pop("long")
    bon = results.pop("bon")
    adaptive = results.pop("adaptive")
    return {**stamp(settings), "seconds": round(time.perf_counter() - t, 1), "workers": workers,
            "long": long, "sweep": [results[f"beta={b:g}"] for b in settings["sweep_betas"]],
            "adaptive": adaptive, "bon": bon, "probe_prompts": probe}


# ---------------------------------------------------------------- storing and loading
def save_runs(runs: dict, path=None) -> Path:
    """Write the runs as JSON, atomically (a crash leaves the old file, never half a new one)."""
    return write_json_atomic(path or default_path(runs["settings"]["size"]), runs, separators=(",", ":"))


def load_runs(path=None, settings: dict | None = None, check: bool = True) -> dict:
    """The stored runs, each run's history as a PPOHistory. Raises ValueError when the file is not
    valid JSON of this shape, or (check=True) was computed from other checkpoints or settings."""
    settings = settings or HACKING
    path = Path(path or default_path(settings["size"]))
    refresh = "run `python -m minilab.hacking` to compute them again (about 50 minutes), or recompute=True in notebook 08"
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))
        missing = {"version", "settings", "checkpoints", "long", "sweep", "adaptive", "bon"} - set(runs)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, TypeError) as e:
        raise ValueError(f"{path}: not a stored run file ({e}); {refresh}") from None
    if missing:
        raise ValueError(f"{path}: stored runs lack {', '.join(sorted(missing))}; {refresh}")
    if check:
        expected = stamp(settings)
        for key in ("version", "settings", "checkpoints"):
            if runs[key] != json.loads(json.dumps(expected[key])):
                raise ValueError(f"{path}: the stored runs were computed with other {key} "
                                 f"({runs[key]} here, {expected[key]} now); {refresh}")
    for run in [runs["long"], runs["adaptive"], *runs["sweep"]]:
        run["history"] = PPOHistory(**run["history"])
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minilab.hacking", description=__doc__.splitlines()[0])
    parser.add_argument("--out", help=f"where to write (default {default_path()})")
    parser.add_argument("--workers", type=int, default=2, help="processes, one thread each (default 2)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    runs = compute_runs(workers=args.workers)
    print(f"wrote {save_runs(runs, args.out)} ({runs['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
