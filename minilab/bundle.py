"""Build the bundled checkpoints under data/checkpoints: `minilab checkpoints` (or `make checkpoints`).

For each size the notebooks use, from the world seed and the project's own code:
base-SIZE (pretrained), sft-SIZE (supervised fine-tuned), rm-SIZE (reward model). All sizes share
one tokenizer, trained on the world corpus. Beside each checkpoint's weights, its config.json
records the model config, the git commit, the training figures and the command that made it.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

from minilab.checkpoint import data_dir, git_commit, load_checkpoint, save_checkpoint
from minilab.pipeline import budget, build_tokenizer, train_base, train_rm, train_sft_model
from minilab.reward import reward_model_tensors
from minilab.world import make_world

SIZES_BUNDLED = ("nano", "micro")


STAGES = ("base", "sft", "rm")


def build(sizes=SIZES_BUNDLED, seed: int = 0, out=None, stages=STAGES, progress: bool = True) -> dict:
    """Train and save the checkpoints of `stages` for each size; a stage not rebuilt is loaded from `out`."""
    out = Path(out) if out else data_dir() / "checkpoints"
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; allowed: {', '.join(STAGES)}")
    common = {"seed": seed, "git_commit": git_commit(), "command": "minilab checkpoints " + " ".join(sys.argv[2:])}
    world = make_world(seed)
    tok = build_tokenizer(world)
    figures = {}
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

        if "rm" in stages:
            t = time.perf_counter()
            rm, _, rm_fig = train_rm(sft_model, tok, world, b["rm"], seed, progress)
            fig = {**rm_fig, "iters": b["rm"], "seconds": round(time.perf_counter() - t, 1)}
            save_checkpoint(out / f"rm-{size}", rm.backbone, tok,
                            {**common, "kind": "reward_model", "stage": "reward_model", "size": size, "figures": fig},
                            extra_tensors=reward_model_tensors(rm))
            figures[f"rm-{size}"] = fig
        print(size, figures, flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="minilab checkpoints", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES_BUNDLED), help="comma-separated sizes")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to rebuild (others are loaded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="directory (default: data/checkpoints)")
    args = parser.parse_args(argv)
    build(tuple(args.sizes.split(",")), args.seed, args.out, tuple(args.stages.split(",")))
    return 0
