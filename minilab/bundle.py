"""The bundled checkpoints under data/checkpoints: list them (`minilab checkpoints`) or train
them again (`minilab checkpoints --rebuild`, or `make checkpoints`: 25 minutes or so on a laptop).

For each size the notebooks use, from the world seed and the project's own code:
base-SIZE (pretrained), sft-SIZE (supervised fine-tuned), rm-SIZE (reward model: the annotators
compare the replies of sft-nano up to sft-SIZE, so rm-micro also judges the nano policy on its own
replies). And ppo-nano: sft-nano after PPO with notebook 07's recipe (pipeline.RLHF_RECIPE, rm-micro
as the judge), so notebook 00 can show base -> SFT -> RLHF from the bundle in seconds. All sizes share
one tokenizer, trained on the world corpus. Beside each checkpoint's weights, its config.json
records the model config, the git commit, the training figures and the command that made it;
the listing shows them.

A rebuild checks everything it can before the first step of training: the sizes and stages, that
the output folder can be written, that no folder of the user's is in the way, and that the
checkpoints a stage starts from are there.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

from minilab.checkpoint import (CONFIG, check_target, check_writable, data_dir, git_commit, load_checkpoint,
                                save_checkpoint)
from minilab.optim import SEED_MAX
from minilab.pipeline import (BUDGETS, RLHF_RECIPE, budget, build_tokenizer, evaluate_model, run_ppo, train_base,
                              train_rm, train_sft_model)
from minilab.reward import reward_model_tensors
from minilab.world import make_world

SIZES_BUNDLED = ("nano", "micro")
STAGES = ("base", "sft", "rm", "ppo")   # in order: each starts from the one before
PPO_SIZES = ("nano",)                   # the policies bundled after PPO (ppo-SIZE), judged by rm-micro
PPO_BUNDLED = {"beta": 0.05, "iters": 20, **RLHF_RECIPE}   # notebook 07's recipe; its default run trains 25 iterations
JUDGE = f"rm-{RLHF_RECIPE['rm_size']}"


def _names(option: str, text: str, allowed) -> tuple[str, ...]:
    """The comma-separated names of --sizes/--stages, each one of `allowed` (ValueError otherwise)."""
    names = tuple(name.strip() for name in text.split(","))
    bad = [name for name in names if name not in allowed]
    if bad:
        raise ValueError(f"{option} {text!r}: unknown {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)} "
                         f"(comma-separated)")
    return names


def check_plan(sizes, stages, out: Path) -> None:
    """Everything a rebuild of `stages` for `sizes` into `out` needs, checked before any training."""
    check_writable(out)
    last = max(STAGES.index(stage) for stage in stages)
    for size in sizes:
        for stage in STAGES[:last + 1]:
            target = out / f"{stage}-{size}"
            if stage in stages:
                check_target(target)   # only a checkpoint or an empty folder is replaced
            elif not (target / CONFIG).is_file():
                raise FileNotFoundError(f"no checkpoint {target} to start from; rebuild it too "
                                        f"(--stages {','.join(STAGES[STAGES.index(stage):last + 1])})")
    if "ppo" in stages and not judge_ready(sizes, stages, out):
        raise FileNotFoundError(f"no checkpoint {out / JUDGE} to judge PPO with; rebuild it too "
                                f"(--sizes {RLHF_RECIPE['rm_size']} --stages rm)")


def judge_ready(sizes, stages, out: Path) -> bool:
    """Whether rm-micro, PPO's judge, is there or is rebuilt before the ppo stage runs."""
    return ("rm" in stages and RLHF_RECIPE["rm_size"] in sizes) or (out / JUDGE / CONFIG).is_file()


def build(sizes=SIZES_BUNDLED, seed: int = 0, out=None, stages=None, progress: bool = True) -> dict:
    """Train and save the checkpoints of `stages` (default: all) for each size; a stage not rebuilt is
    loaded from `out`. By default the ppo stage is skipped, with a note, when its judge (rm-micro) is
    neither there nor rebuilt; asked for by name, that is an error."""
    out = Path(out).expanduser() if out else data_dir() / "checkpoints"
    sizes = _names("--sizes", ",".join(sizes), BUDGETS)
    if stages is None:
        stages = STAGES
        if not judge_ready(sizes, stages, out):
            stages = STAGES[:-1]
            print(f"ppo-nano is not rebuilt: its judge {JUDGE} is neither in {out} nor among --sizes", flush=True)
    stages = _names("--stages", ",".join(stages), STAGES)
    if not (isinstance(seed, int) and 0 <= seed <= SEED_MAX):
        raise ValueError(f"--seed must be an integer in [0, {SEED_MAX}], got {seed!r}")
    check_plan(sizes, stages, out)
    common = {"seed": seed, "git_commit": git_commit(), "command": "minilab checkpoints " + " ".join(sys.argv[2:])}
    world = make_world(seed)
    tok = build_tokenizer(world)
    figures = {}
    sft_models = {}           # the annotators of rm-SIZE compare the replies of every SFT model up to SIZE
    for size in SIZES_BUNDLED[:max(SIZES_BUNDLED.index(s) for s in sizes) + 1] if "rm" in stages else ():
        if size not in sizes and (out / f"sft-{size}" / CONFIG).is_file():
            sft_models[size] = load_checkpoint(out / f"sft-{size}")[0]
    for size in sizes:
        b = budget(size)
        if "base" in stages:
            t = time.perf_counter()
            base, pt_hist = train_base(world, tok, size, b["pretrain"], seed, lr=b["lr"],
                                       batch_size=b["pretrain_batch"], progress=progress)
            fig = {"val_loss": pt_hist.val_loss[-1], "iters": b["pretrain"], "seconds": round(time.perf_counter() - t, 1)}
            save_checkpoint(out / f"base-{size}", base, tok, {**common, "stage": "base", "size": size, "figures": fig})
            figures[f"base-{size}"] = fig
        else:
            base, tok, _ = load_checkpoint(out / f"base-{size}")

        if "sft" in stages:
            t = time.perf_counter()
            sft_model, sft_hist = train_sft_model(copy.deepcopy(base), tok, world, b["sft"], seed, progress)
            fig = {"loss": sft_hist.loss[-1], "gold": sft_hist.gold[-1], "well_formed": sft_hist.well_formed[-1],
                   "gold_base": sft_hist.gold[0], "well_formed_base": sft_hist.well_formed[0],
                   "iters": b["sft"], "seconds": round(time.perf_counter() - t, 1)}
            save_checkpoint(out / f"sft-{size}", sft_model, tok, {**common, "stage": "sft", "size": size, "figures": fig})
            figures[f"sft-{size}"] = fig
        else:
            sft_model, tok, _ = load_checkpoint(out / f"sft-{size}")
        sft_models[size] = sft_model

        if "rm" in stages:
            t = time.perf_counter()
            policies = [sft_models[s] for s in SIZES_BUNDLED if s in sft_models and
                        SIZES_BUNDLED.index(s) <= SIZES_BUNDLED.index(size)]
            rm, _, rm_fig = train_rm(sft_model, tok, world, b["rm"], seed, progress, policies=policies)
            fig = {**rm_fig, "iters": b["rm"], "seconds": round(time.perf_counter() - t, 1)}
            save_checkpoint(out / f"rm-{size}", rm.backbone, tok,
                            {**common, "kind": "reward_model", "stage": "reward_model", "size": size, "figures": fig},
                            extra_tensors=reward_model_tensors(rm))
            figures[f"rm-{size}"] = fig
        print(size, figures, flush=True)

    for size in (s for s in sizes if s in PPO_SIZES and "ppo" in stages):
        t = time.perf_counter()
        policy, _, history = run_ppo(size=size, seed=seed, progress=progress, checkpoints=out, **PPO_BUNDLED)
        sft_model = sft_models[size]               # trained above, or loaded from `out`
        heldout = [q.prompt for q in world.questions("heldout")]
        fig = {"gold": evaluate_model(policy, tok, world, heldout, seed=seed)[0]["gold"],
               "gold_sft": evaluate_model(sft_model, tok, world, heldout, seed=seed)[0]["gold"],
               "kl": history.kl[-1], "judge": JUDGE, **PPO_BUNDLED,
               "seconds": round(time.perf_counter() - t, 1)}
        save_checkpoint(out / f"ppo-{size}", policy, tok, {**common, "stage": "ppo", "size": size, "figures": fig})
        figures[f"ppo-{size}"] = fig
        print(f"ppo-{size}", fig, flush=True)
    return figures


def describe(out=None) -> list[dict]:
    """One row per checkpoint under `out` (default data/checkpoints): its name, bytes on disk,
    and what made it, as its config.json records (stage, size, git commit, command, figures)."""
    out = Path(out).expanduser() if out else data_dir() / "checkpoints"
    rows = []
    for folder in sorted(out.iterdir()) if out.is_dir() else []:
        if not (folder / CONFIG).is_file():
            continue
        try:
            meta = json.loads((folder / CONFIG).read_text(encoding="utf-8")).get("meta") or {}
        except (ValueError, AttributeError):
            meta = {"stage": "unreadable config.json"}
        rows.append({"name": folder.name, "bytes": sum(f.stat().st_size for f in folder.iterdir() if f.is_file()),
                     **{k: meta.get(k) for k in ("stage", "size", "git_commit", "command", "figures")}})
    return rows


def listing(rows, out) -> str:
    """The rows of `describe` as text: one line per checkpoint, then its command and figures."""
    if not rows:
        return f"no checkpoints in {out}; build them with `minilab checkpoints --rebuild` (about 25 minutes)"
    total = sum(r["bytes"] for r in rows)
    lines = [f"{len(rows)} checkpoints in {out}, {total / 1e6:.1f} MB:"]
    for r in rows:
        commit = (r["git_commit"] or "unknown")[:12]
        lines.append(f"  {r['name']:<12} {r['bytes'] / 1e6:6.1f} MB  stage {r['stage']}, size {r['size']}, "
                     f"commit {commit}, made by `{r['command']}`")
        figures = r["figures"] or {}
        shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())
        lines.append(f"  {'':<12} {shown or 'no figures recorded'}")
    lines.append("rebuild them with `minilab checkpoints --rebuild [--sizes ...] [--stages ...]` (about 25 minutes)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="minilab checkpoints", description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="train the checkpoints again (without it: list them)")
    parser.add_argument("--sizes", help=f"with --rebuild: comma-separated sizes (default {','.join(SIZES_BUNDLED)}; "
                                        f"allowed: {', '.join(BUDGETS)})")
    parser.add_argument("--stages", help=f"with --rebuild: comma-separated stages to train, the others are loaded "
                                         f"(default and allowed: {','.join(STAGES)})")
    parser.add_argument("--seed", type=int, help="with --rebuild: world and training seed (default 0)")
    parser.add_argument("--out", default=None, help="directory (default: data/checkpoints)")
    args = parser.parse_args(argv)
    sizes = _names("--sizes", ",".join(SIZES_BUNDLED) if args.sizes is None else args.sizes, BUDGETS)
    stages = None if args.stages is None else _names("--stages", args.stages, STAGES)
    out = Path(args.out).expanduser() if args.out else data_dir() / "checkpoints"
    if args.rebuild:
        build(sizes, 0 if args.seed is None else args.seed, out, stages)
    elif (args.sizes, args.stages, args.seed) != (None, None, None):
        raise ValueError("--sizes, --stages and --seed choose what --rebuild trains; "
                         "without --rebuild, `minilab checkpoints` lists every checkpoint")
    else:
        print(listing(describe(out), out))
    return 0
