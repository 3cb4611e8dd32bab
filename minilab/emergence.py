"""Emergence on a ladder, and the Swiss-cheese skill grid: the runs notebook 04 draws, and how they are stored.

One question, asked of a ladder of GPTs trained the way the bundled base models were (the same
corpus, tokenizer, batches of 32 windows of 128 tokens, 1,200 steps, so every rung reads the same
4.9 million tokens): as a model grows, and as it trains, does a *skill* appear smoothly, like the
loss, or suddenly? The skill is adding two-digit numbers whose sums appear nowhere in the corpus
(`world.addition_pairs("test")`), asked in the worksheet format and read greedily.

Every `eval_every` steps each rung records its validation loss, the held-out two-digit accuracy
and the one-digit accuracy (sums that are in the corpus many times), so one file gives both
ladders: across sizes at a fixed number of tokens, and across compute within each size.

The skill grid (`SKILL_LADDER`) trains five of the rungs the same way on the corpus plus the
worksheets of skills.py, and asks each, at the end, every skill on held-out items (`skill_grid`).

The nine rungs take 46 minutes of one core (about 25 minutes with two workers), the grid 40 (24),
more than a lesson, so they run once, `python -m minilab.emergence [--skills]` (one process per
rung, one thread each: same seed, same numbers on the same machine), and are stored in
data/runs/emergence.json and data/runs/skills.json with a digest of the tokenizer they used.
`load_runs` refuses a file computed with other settings or another tokenizer.

    addition_accuracy(model, tok, world.addition_pairs("test"))   # a model's held-out sums
    runs = load_runs()                                            # or compute_runs()
    runs["rungs"]["micro"]["add2"]                                # accuracy at each eval step
    load_runs(settings=SKILL_LADDER)["rungs"]["micro"]["grid"]    # {"facts": 0.98, "count/written": ...}
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from minilab.checkpoint import checkpoint_digest, data_dir, load_checkpoint, write_json_atomic
from minilab.model import GPT, count_params, flops_per_token
from minilab.pretrain import PretrainConfig, as_ids, evaluate, pretrain, train_val_split
from minilab.skills import FORMS, SKILLS, fact_accuracy, greedy_continuations, skill_accuracy, skill_documents, skill_items
from minilab.world import make_world

VERSION = 1
# The ladder: name -> (n_layer, n_head, n_embd). Two series: widths 16 to 96 at two layers (w64 is
# the bundled nano shape), and widths 32 to 128 at four layers (d4w128 is the bundled micro shape),
# so that a jump can be told apart from a change of depth. Learning rates as the bundled models had
# them (pipeline.BUDGETS): 3e-3 at two layers, 2e-3 at four.
EMERGENCE = {
    "seed": 0, "tokenizer": "base-nano",
    "iters": 1200, "batch_size": 32, "block_size": 128, "eval_every": 100, "eval_iters": 2,
    "rungs": {"w16": [2, 2, 16], "w32": [2, 2, 32], "w48": [2, 2, 48], "w64": [2, 2, 64], "w96": [2, 2, 96],
              "d4w32": [4, 4, 32], "d4w64": [4, 4, 64], "d4w96": [4, 4, 96], "micro": [4, 4, 128]},
    "lr": {"w16": 3e-3, "w32": 3e-3, "w48": 3e-3, "w64": 3e-3, "w96": 3e-3,
           "d4w32": 2e-3, "d4w64": 2e-3, "d4w96": 2e-3, "micro": 2e-3},
    "one_digit": True, "skills": False,
}
# The Swiss-cheese grid (skills.py): five rungs trained the same way on the corpus plus the skills'
# worksheets; at the end each is asked every skill, in both forms, on held-out items.
SKILL_LADDER = {
    **{k: v for k, v in EMERGENCE.items() if k not in ("rungs", "lr")},
    "eval_every": 300, "skills": True,
    "rungs": {n: EMERGENCE["rungs"][n] for n in ("w32", "w64", "d4w64", "d4w96", "micro")},
    "lr": {n: EMERGENCE["lr"][n] for n in ("w32", "w64", "d4w64", "d4w96", "micro")},
}
ADD_PROMPT = "Addition practice\n\n{x} + {y} ="     # the worksheet format of the corpus


# ---------------------------------------------------------------- the skill
def addition_answers(model, tok, pairs) -> list[int | None]:
    """The model's greedy answer to each `x + y =` in the worksheet format (None: no number)."""
    texts = greedy_continuations(model, tok, [ADD_PROMPT.format(x=x, y=y) for x, y in pairs], 4)
    return [int(m.group(1)) if (m := re.match(r"\s*(\d+)", t)) else None for t in texts]


def addition_accuracy(model, tok, pairs) -> float:
    """Share of `pairs` whose sum the model answers exactly."""
    if not pairs:
        raise ValueError("addition_accuracy: no pairs given")
    answers = addition_answers(model, tok, pairs)
    return sum(a == x + y for a, (x, y) in zip(answers, pairs)) / len(pairs)


ONE_DIGIT = [(x, y) for x in range(10) for y in range(10)]    # in the corpus, many times over


# ---------------------------------------------------------------- the runs
def default_path(settings: dict | None = None) -> Path:
    """data/runs/emergence.json for the ladder, data/runs/skills.json for the skill grid."""
    return data_dir() / "runs" / ("skills.json" if (settings or EMERGENCE).get("skills") else "emergence.json")


def corpus_text(world, settings: dict) -> str:
    """The pretraining text of a ladder: the world's corpus, plus the skills' worksheets for the grid."""
    if not settings.get("skills"):
        return world.corpus()
    docs = world.documents() + skill_documents(world)
    random.Random(f"minilab-skills-corpus-{settings['seed']}").shuffle(docs)   # worksheets spread through training and validation
    return "<|endoftext|>".join(docs)


def skill_grid(model, tok, world) -> dict:
    """Held-out accuracy of every skill: facts (completion), one- and two-digit sums, and each
    Swiss-cheese skill in both forms ("compare/written", "compare/spelled", ...)."""
    grid = {"facts": fact_accuracy(model, tok, world), "one-digit sums": addition_accuracy(model, tok, ONE_DIGIT),
            "two-digit sums": addition_accuracy(model, tok, world.addition_pairs("test"))}
    for skill in SKILLS:
        for form in FORMS:
            grid[f"{skill}/{form}"] = skill_accuracy(model, tok, skill_items(world, skill, "test", form))
    return grid


def stamp(settings: dict) -> dict:
    """The tokenizer's digest and the settings: a stored file is valid while they match."""
    return {"version": VERSION, "settings": settings, "checkpoints": {settings["tokenizer"]: checkpoint_digest(settings["tokenizer"])}}


class _FirstEvalDone(Exception):
    """Raised after the first evaluation of a `first_eval_only` run, to stop it there."""


def _rung_job(settings: dict, name: str, log: bool = False, first_eval_only: bool = False) -> dict:
    """Train one rung, measuring loss and both skills every `eval_every` steps (and at step 0).
    first_eval_only: stop at the first evaluation, on the full run's schedule (what the tests compare)."""
    torch.set_num_threads(1)
    _, tok, meta = load_checkpoint(settings["tokenizer"])
    world = make_world(meta.get("seed", 0))
    train_ids, val_ids = train_val_split(tok.encode(corpus_text(world, settings)))
    n_layer, n_head, n_embd = settings["rungs"][name]
    lr, iters = settings["lr"][name], settings["iters"]
    cfg = PretrainConfig(vocab_size=tok.vocab_size, size=None, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                         block_size=settings["block_size"], batch_size=settings["batch_size"], max_iters=iters,
                         lr=lr, min_lr=lr / 10, warmup_iters=max(1, iters // 20), eval_interval=settings["eval_every"],
                         eval_iters=settings["eval_iters"], seed=settings["seed"])
    torch.manual_seed(settings["seed"])
    model = GPT(cfg.model_config())
    held_out = world.addition_pairs("test")
    record = {"iter": [], "tokens": [], "val_loss": [], "add2": [], "add1": []}

    def measure(done, val_loss):
        record["iter"].append(done)
        record["tokens"].append(done * cfg.batch_size * cfg.block_size)
        record["val_loss"].append(val_loss)
        record["add2"].append(addition_accuracy(model, tok, held_out))
        record["add1"].append(addition_accuracy(model, tok, ONE_DIGIT) if settings["one_digit"] else None)
        if log:
            print(f"  {name}: step {done}: val loss {val_loss:.3f}, held-out two-digit {record['add2'][-1]:.1%}, "
                  f"one-digit {record['add1'][-1]:.1%}", flush=True)

    def after_eval(history):
        measure(history.eval_iter[-1], history.val_loss[-1])
        if first_eval_only:
            raise _FirstEvalDone

    measure(0, evaluate(model, as_ids(val_ids), cfg.block_size, cfg.eval_batch_size, cfg.eval_iters))
    t = time.perf_counter()
    try:
        pretrain(cfg, train_ids, val_ids, model=model, progress=False, callback=after_eval)
    except _FirstEvalDone:
        pass
    out = {"shape": [n_layer, n_head, n_embd], "lr": lr, "params": count_params(model),
           "flops_per_token": flops_per_token(model.config), **record, "seconds": round(time.perf_counter() - t, 1)}
    if settings.get("skills") and not first_eval_only:
        out["grid"] = skill_grid(model, tok, world)
        if log:
            print(f"  {name}: " + ", ".join(f"{k} {v:.0%}" for k, v in out["grid"].items()), flush=True)
    return out


def compute_runs(settings: dict | None = None, workers: int = 2, progress: bool = True, done: dict | None = None) -> dict:
    """Train every rung (about 25 minutes with 2 workers); returns the dict save_runs stores. Each rung
    uses one thread, so the numbers do not depend on `workers`. done: rungs already computed with
    these settings (a stored file's "rungs"), kept as they are and not trained again."""
    settings = copy.deepcopy(settings or EMERGENCE)
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(_rung_job, settings, name, progress) for name in settings["rungs"]
                   if name not in (done or {})}
        rungs = {name: (done or {})[name] for name in settings["rungs"] if name in (done or {})}
        for name, future in futures.items():
            rungs[name] = future.result()
            if progress:
                print(f"emergence: {name} done ({rungs[name]['seconds']:.0f} s; {time.perf_counter() - t:.0f} s so far)",
                      flush=True)
    rungs = {name: rungs[name] for name in settings["rungs"]}          # the settings' order
    return {**stamp(settings), "seconds": round(sum(r["seconds"] for r in rungs.values()), 1), "workers": workers,
            "rungs": rungs}


def save_runs(runs: dict, path=None) -> Path:
    """Write the runs as JSON, atomically (a crash leaves the old file, never half a new one)."""
    return write_json_atomic(path or default_path(runs["settings"]), runs, separators=(",", ":"))


def load_runs(path=None, settings: dict | None = None, check: bool = True) -> dict:
    """The stored ladder. Raises ValueError when the file is not valid JSON of this shape, lacks a
    rung, or (check=True) was computed with other settings or another tokenizer."""
    settings = settings or EMERGENCE
    path = Path(path or default_path(settings))
    command = "python -m minilab.emergence" + (" --skills" if settings.get("skills") else "")
    refresh = f"run `{command}` to compute it again (about 25 minutes on two cores), or recompute=True in notebook 04"
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))
        missing = {"version", "settings", "checkpoints", "rungs"} - set(runs)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, TypeError) as e:
        raise ValueError(f"{path}: not a stored ladder ({e}); {refresh}") from None
    if missing:
        raise ValueError(f"{path}: the stored ladder lacks {', '.join(sorted(missing))}; {refresh}")
    if check:
        expected = stamp(settings)
        for key in ("version", "settings", "checkpoints"):
            if runs[key] != json.loads(json.dumps(expected[key])):
                raise ValueError(f"{path}: the stored ladder was computed with other {key} "
                                 f"({runs[key]} here, {expected[key]} now); {refresh}")
    fields = ("iter", "tokens", "val_loss", "add2", "add1", "params", "flops_per_token") + (("grid",) if settings.get("skills") else ())
    for name in settings["rungs"]:
        rung = runs["rungs"].get(name)
        if not isinstance(rung, dict) or set(fields) - set(rung):
            raise ValueError(f"{path}: rung {name!r} is missing or incomplete; {refresh}")
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minilab.emergence", description=__doc__.splitlines()[0])
    parser.add_argument("--out", help=f"where to write (default {default_path()}, or {default_path(SKILL_LADDER)} with --skills)")
    parser.add_argument("--workers", type=int, default=2, help="processes, one thread each (default 2)")
    parser.add_argument("--skills", action="store_true", help="the Swiss-cheese skill grid (data/runs/skills.json)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    runs = compute_runs(SKILL_LADDER if args.skills else EMERGENCE, workers=args.workers)
    print(f"wrote {save_runs(runs, args.out)} ({runs['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
