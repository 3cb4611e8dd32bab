"""Pretraining: teach the tiny GPT to predict the next token of a text.

The loop is written out (nanoGPT's train.py, without the distributed parts), short
enough to copy into a notebook:

1. sample a batch of random windows of `block_size` tokens from the training split;
2. loss = cross-entropy between the logits and the same windows shifted by one;
3. backward, clip the gradient norm, AdamW step with the scheduled learning rate;
4. every `eval_interval` iterations, the loss on the *whole* validation split (or, with
   `eval_iters` > 0, on its first batches, or with `eval_spread` on as many windows spread
   evenly over the split; one that seems to reach `target_val_loss` is checked on the whole
   split before training stops).

Notable choices:
- AdamW (Loshchilov & Hutter 2019) with weight decay on matrices only (not on the
  norm gains), as in GPT-2/nanoGPT; beta2 = 0.99 because a batch holds few tokens.
- Learning rate: linear warmup, then cosine decay to `min_lr` (Loshchilov & Hutter
  2017, SGDR Eq. 5). The RoPE + RMSNorm pre-norm model stays stable at 4e-3, four
  times nanoGPT's 1e-3; on tiny Shakespeare (nanoGPT's CPU recipe) that lowers the
  val loss after 2000 iterations from 1.79 to 1.73 (nanoGPT's own model: 1.89).
- The validation loss is the mean over every token of the validation split, read in
  non-overlapping windows (not a random sample), so two runs compare exactly.
- `history` is a `PretrainHistory` (history.py); `callback(history)` runs after each evaluation
  (live plots in notebook 03). Training stops early when the validation loss reaches
  `target_val_loss`; evaluation time is measured apart from training time.

`minilab pretrain ...` (see `main`) runs it from the command line; `--json` prints
the metrics as one JSON object on the last line. `--out` is checked before training, and
Ctrl-C saves the weights of the last evaluation there (`TrainingInterrupted`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from minilab.config import SIZES, SPECIAL_TOKENS, VOCAB_SIZE, GPTConfig, size_config
from minilab.history import PretrainHistory
from minilab.model import GPT, count_params, flops_per_token
from minilab.optim import (SEED_MAX, LastGood, TrainingInterrupted, check_bool, check_choice, check_device, check_float,
                           check_int, check_optimizer_knobs, lr_at, make_optimizer, optimizer_step, set_lr)


@dataclass
class PretrainConfig:
    vocab_size: int | None = None    # token ids the model knows: set it to tokenizer.vocab_size (unused if a model is given)
    size: str | None = "micro"       # named model size (config.SIZES); None: give n_layer, n_head and n_embd
    n_layer: int | None = None       # transformer blocks (overrides the size preset when set)
    n_head: int | None = None        # attention heads (overrides the size preset when set)
    n_embd: int | None = None        # residual stream width (overrides the size preset when set)
    block_size: int = 128            # tokens per training window (the model's context)
    dropout: float = 0.0             # dropout in the model (0: off, best for short runs)
    batch_size: int = 16             # windows per iteration
    max_iters: int = 2000            # optimizer steps (also the length of the cosine schedule)
    lr: float = 4e-3                 # peak learning rate, reached after warmup
    min_lr: float = 4e-4             # learning rate at the end of the cosine decay
    warmup_iters: int = 100          # iterations of linear warmup from ~0 to lr
    weight_decay: float = 0.1        # AdamW weight decay, applied to matrices only
    beta1: float = 0.9               # AdamW momentum of the gradient
    beta2: float = 0.99              # AdamW momentum of the squared gradient
    grad_clip: float = 1.0           # clip the global gradient norm to this (0: no clipping)
    eval_interval: int = 100         # evaluate the validation loss every this many iterations
    eval_iters: int = 0              # 0: val loss over the whole val split; N > 0: over its first N batches (the target check: whole)
    eval_spread: bool = False        # with eval_iters > 0: N batches of windows spread evenly over the split, not its first ones
    eval_batch_size: int = 128       # windows per batch during evaluation
    seed: int = 0                    # seeds the initial weights and the order of batches
    target_val_loss: float | None = None  # stop as soon as the val loss is at most this
    device: str = "cpu"              # torch device
    num_threads: int | None = None   # torch.set_num_threads for the run (None: leave torch's choice)

    def __post_init__(self):
        check_choice(self, "size", SIZES, optional=True)
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "num_threads"):
            check_int(self, name, 1, optional=True)
        if self.size is None and None in (self.n_layer, self.n_head, self.n_embd):
            raise ValueError("PretrainConfig: with size=None, set n_layer, n_head and n_embd")
        check_optimizer_knobs(self)                     # max_iters, lr, min_lr, betas, ...
        for name in ("block_size", "batch_size", "eval_interval", "eval_batch_size"):
            check_int(self, name, 1)
        check_int(self, "eval_iters", 0)
        check_bool(self, "eval_spread")
        check_int(self, "seed", 0, SEED_MAX)
        check_float(self, "dropout", ge=0, lt=1)
        check_float(self, "target_val_loss", gt=0, optional=True)
        check_device(self, "device")

    def model_config(self, vocab_size: int | None = None) -> GPTConfig:
        """The GPTConfig this run trains: the size preset with any n_layer/n_head/n_embd overrides."""
        vocab_size = vocab_size or self.vocab_size
        if vocab_size is None:
            raise ValueError("PretrainConfig.vocab_size is not set: pass vocab_size=tokenizer.vocab_size (or give a model)")
        shape = {k: getattr(self, k) for k in ("n_layer", "n_head", "n_embd") if getattr(self, k) is not None}
        if self.size is None:
            return GPTConfig(vocab_size=vocab_size, block_size=self.block_size, dropout=self.dropout, **shape)
        return size_config(self.size, vocab_size, self.block_size, dropout=self.dropout, **shape)


# ---------------------------------------------------------------- data

def load_text(path) -> str:
    """The contents of a UTF-8 text file, with an error that names the path."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"text file not found: {os.path.abspath(path)} (pass an existing UTF-8 text file)")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"{os.path.abspath(path)} is not UTF-8 text (it holds byte {e.object[e.start]:#04x}); "
                         "save it as UTF-8, e.g. iconv -f latin1 -t utf-8 old.txt > new.txt") from e


def train_val_split(ids, val_frac: float = 0.1):
    """First 90% for training, last 10% for validation (nanoGPT's split)."""
    n = int(len(ids) * (1 - val_frac))
    return ids[:n], ids[n:]


def as_ids(ids) -> torch.Tensor:
    return ids.long().flatten() if torch.is_tensor(ids) else torch.tensor(ids, dtype=torch.long)


def get_batch(ids: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator):
    """Random windows x (B, T) and their next tokens y (B, T) from a 1-D tensor of ids."""
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)  # (B,)
    window = ids[starts[:, None] + torch.arange(block_size + 1)]  # (B, T + 1)
    return window[:, :-1], window[:, 1:]  # (B, T), (B, T)


def eval_windows(ids: torch.Tensor, block_size: int):
    """Non-overlapping windows that cover every token of `ids` once as a target:
    full windows x, y (N, T), and the shorter tail x, y (1, r) (None when empty)."""
    n = (len(ids) - 1) // block_size  # full windows
    x = ids[: n * block_size].view(n, block_size)  # (N, T)
    y = ids[1: n * block_size + 1].view(n, block_size)  # (N, T)
    r = len(ids) - 1 - n * block_size  # targets left over
    tail = (ids[n * block_size: n * block_size + r][None], ids[n * block_size + 1:][None]) if r > 0 else None  # (1, r)
    return x, y, tail


@torch.no_grad()
def evaluate(model, ids, block_size: int, batch_size: int = 128, max_batches: int = 0, spread: bool = False) -> float:
    """Mean next-token loss over every token of `ids` (max_batches > 0: over the first batches only;
    with `spread`, over max_batches * batch_size windows evenly spaced from the first to the last:
    the start of a text can be easier or harder than the rest of it)."""
    was_training = model.training
    model.eval()
    x, y, tail = eval_windows(as_ids(ids), block_size)
    if max_batches and spread and max_batches * batch_size < len(x):
        pick = torch.linspace(0, len(x) - 1, max_batches * batch_size).round().long()   # (n,) window indices
        x, y, tail = x[pick], y[pick], None
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if tail is not None:
        batches.append(tail)
    if max_batches:
        batches = batches[:max_batches]
    if not batches:
        raise ValueError(f"need at least 2 tokens to evaluate, got {len(ids)}")
    total, count = 0.0, 0
    for xb, yb in batches:
        logits = model(xb)  # (b, T, V)
        total += F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum").item()
        count += yb.numel()
    model.train(was_training)
    return total / count


# ---------------------------------------------------------------- the loop

def pretrain(cfg: PretrainConfig, train_ids, val_ids, model: GPT | None = None, progress: bool = True, callback=None):
    """Train `model` (a new GPT from cfg if None) on train_ids; return (model, history)."""
    # 1. data, model, optimizer
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train, val = as_ids(train_ids).to(cfg.device), as_ids(val_ids).to(cfg.device)
    if len(train) <= cfg.block_size + 1:
        raise ValueError(f"training split has {len(train)} tokens; need more than block_size + 1 = {cfg.block_size + 1}")
    if len(val) < 2:
        raise ValueError(f"validation split has {len(val)} tokens; need at least 2")
    model = (model if model is not None else GPT(cfg.model_config())).to(cfg.device)
    if cfg.block_size > model.config.block_size:
        raise ValueError(f"cfg.block_size={cfg.block_size} exceeds the model's block_size={model.config.block_size}")
    model.train()
    optimizer = make_optimizer(model, cfg)
    history = PretrainHistory()
    last_good = LastGood(model, "pretraining", history)    # restored if the loss blows up
    last_good.save()
    t_start, train_s = time.perf_counter(), 0.0
    bar = tqdm(total=cfg.max_iters, desc="pretrain", disable=not progress, dynamic_ncols=True)

    try:   # Ctrl-C: back to the weights of the last evaluation, raised as TrainingInterrupted
        for it in range(cfg.max_iters):
            t0 = time.perf_counter()
            # 2. forward: next-token loss on a random batch
            lr = lr_at(it, cfg)
            set_lr(optimizer, lr)
            x, y = get_batch(train, cfg.batch_size, cfg.block_size, gen)  # (B, T), (B, T)
            logits = model(x)  # (B, T, V)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())  # mean of -log p(y_t | x_<=t)
            # 3. backward, clip, step (an inf/NaN loss restores the last good weights and raises TrainingDiverged)
            optimizer_step(model, optimizer, loss, cfg.grad_clip, last_good, f"at iteration {it + 1}",
                           hint="Try a lower lr or more warmup_iters.", lr=lr)
            loss_value = loss.item()
            train_s += time.perf_counter() - t0
            history.record(iter=it + 1, train_loss=loss_value, lr=lr, tokens=(it + 1) * cfg.batch_size * cfg.block_size,
                           elapsed=time.perf_counter() - t_start, train_s=train_s)
            bar.update(1)
            if it % 10 == 0:
                bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{history.val_loss[-1]:.3f}" if history.val_loss else "-")

            # 4. evaluate on the validation split (eval_iters > 0: some of its windows); stop at the target
            if (it + 1) % cfg.eval_interval == 0 or it + 1 == cfg.max_iters:
                val_loss = evaluate(model, val, cfg.block_size, cfg.eval_batch_size, cfg.eval_iters, cfg.eval_spread)
                if cfg.eval_iters and cfg.target_val_loss is not None and val_loss <= cfg.target_val_loss:
                    val_loss = evaluate(model, val, cfg.block_size, cfg.eval_batch_size)   # the whole split decides
                last_good.check(f"at iteration {it + 1}", val_loss=val_loss)
                last_good.save()
                history.record(eval_iter=it + 1, val_loss=val_loss, eval_elapsed=time.perf_counter() - t_start,
                               eval_train_s=train_s)
                bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{val_loss:.3f}")
                if callback is not None:
                    callback(history)
                if cfg.target_val_loss is not None and val_loss <= cfg.target_val_loss:
                    break
    except KeyboardInterrupt:
        bar.close()
        raise last_good.interrupted(f"at iteration {len(history.iter) + 1}") from None
    bar.close()
    return model, history


def summary(cfg: PretrainConfig, model, history: PretrainHistory) -> dict:
    """The metrics of a finished run, as printed by `minilab pretrain --json`."""
    train_s = history.train_s[-1] if history.train_s else 0.0
    tokens = history.tokens[-1] if history.tokens else 0
    val_loss = history.val_loss[-1] if history.val_loss else None
    reached = cfg.target_val_loss is not None and val_loss is not None and val_loss <= cfg.target_val_loss
    wall_s = history.eval_elapsed[-1] if history.eval_elapsed else (history.elapsed or [0.0])[-1]
    return {
        "val_loss": val_loss, "train_loss": history.train_loss[-1] if history.train_loss else None,
        "iters": history.iter[-1] if history.iter else 0, "tokens": tokens,
        "wall_s": round(wall_s, 3), "train_s": round(train_s, 3), "eval_s": round(wall_s - train_s, 3),
        "tokens_per_s": round(tokens / train_s, 1) if train_s else None,
        "params": count_params(model), "flops_per_token": flops_per_token(model.config),
        "target_val_loss": cfg.target_val_loss, "reached_target": reached,
        "time_to_target_s": round(train_s, 3) if reached else None,
        "num_threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------- command line

def build_parser() -> argparse.ArgumentParser:
    d = PretrainConfig()
    p = argparse.ArgumentParser(prog="minilab pretrain", description="Pretrain a tiny GPT on the world corpus or a text file.")
    p.add_argument("--text", help="UTF-8 text file to train on (default: the synthetic world's corpus)")
    p.add_argument("--world-seed", type=int, default=0, help="seed of the synthetic world (without --text)")
    p.add_argument("--tokenizer", choices=["char", "bpe"], default="bpe", help="character-level or byte-level BPE")
    p.add_argument("--vocab-size", type=int, default=VOCAB_SIZE, help="BPE vocabulary size")
    p.add_argument("--size", default=d.size, help=f"model size preset: {', '.join(SIZES)}")
    for name in ("n_layer", "n_head", "n_embd"):
        p.add_argument("--" + name.replace("_", "-"), type=int, help=f"{name} (overrides --size)")
    for name in ("block_size", "batch_size", "max_iters", "warmup_iters", "eval_interval", "eval_iters", "seed", "num_threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name), help=f"default {getattr(d, name)}")
    for name in ("lr", "min_lr", "weight_decay", "beta1", "beta2", "grad_clip", "dropout", "target_val_loss"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name), help=f"default {getattr(d, name)}")
    p.add_argument("--eval-spread", action="store_true",
                   help="with --eval-iters N: N batches of windows spread over the validation split, not its first ones")
    p.add_argument("--out", help="directory to save the checkpoint in")
    p.add_argument("--force", action="store_true", help="let --out replace a file or a folder that is not a checkpoint")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object on the last line")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args, argv)
    except (FileNotFoundError, ValueError) as e:  # bad paths and knobs: one clear line, no traceback
        parser.exit(2, f"minilab pretrain: error: {e}\n")


def run(args, argv) -> int:
    t_start = time.perf_counter()
    from minilab.checkpoint import check_target, check_writable
    from minilab.tokenizer import BPETokenizer, CharTokenizer  # imported here: `--help` stays instant

    # 0. a refused --out must cost nothing: check it before any training
    if args.out:
        out = Path(args.out).expanduser().resolve()
        check_target(out, args.force)
        check_writable(out.parent)

    # 1. text and tokenizer
    if args.text:
        text = load_text(args.text)
    else:
        from minilab.world import make_world
        text = make_world(args.world_seed).corpus()
    if args.tokenizer == "char":
        tok = CharTokenizer.train(text, special_tokens=SPECIAL_TOKENS)
    else:
        tok = BPETokenizer.train(text, vocab_size=args.vocab_size, special_tokens=SPECIAL_TOKENS)
    train_ids, val_ids = train_val_split(tok.encode(text))
    setup_s = time.perf_counter() - t_start

    # 2. train; Ctrl-C keeps the weights of the last evaluation
    if args.size in ("", "none", "None"):
        args.size = None
    knobs = {f.name: getattr(args, f.name) for f in fields(PretrainConfig) if f.name != "vocab_size" and hasattr(args, f.name)}
    cfg = PretrainConfig(vocab_size=tok.vocab_size, **knobs)
    try:
        model, history = pretrain(cfg, train_ids, val_ids, progress=not args.no_progress)
    except TrainingInterrupted as stop:
        model, history = stop.model, stop.history
        where = f"interrupted (Ctrl-C) at iteration {len(history.iter) + 1}"
        if not args.out:
            print(f"minilab pretrain: {where}; nothing saved (no --out)", file=sys.stderr)
        elif not history.eval_iter:
            print(f"minilab pretrain: {where}, before the first evaluation (every {cfg.eval_interval} iterations): "
                  f"nothing written to {args.out}", file=sys.stderr)
        else:
            save(args, argv, cfg, model, tok, {**summary(cfg, model, history), "interrupted": True})
            print(f"minilab pretrain: {where}; saved the weights of iteration {history.eval_iter[-1]} "
                  f"(val loss {history.val_loss[-1]:.4f}) to {args.out}", file=sys.stderr)
        return 130  # 128 + SIGINT, as the dispatcher returns for Ctrl-C
    metrics = summary(cfg, model, history)
    metrics.update(setup_s=round(setup_s, 3), total_s=round(time.perf_counter() - t_start, 3),
                   vocab_size=tok.vocab_size, train_tokens=len(train_ids), val_tokens=len(val_ids))

    # 3. save
    if args.out:
        save(args, argv, cfg, model, tok, metrics)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"val loss {metrics['val_loss']:.4f} after {metrics['iters']} iters, train {metrics['train_s']:.1f}s "
              f"(wall {metrics['wall_s']:.1f}s), {metrics['tokens_per_s']:.0f} tokens/s, {metrics['params']:,} params"
              + (f"; saved to {args.out}" if args.out else ""))
    return 0


def save(args, argv, cfg: PretrainConfig, model, tok, metrics: dict) -> None:
    """Save the run to --out (atomically: see checkpoint.save_checkpoint), with what made it."""
    from minilab.checkpoint import git_commit, save_checkpoint
    meta = {"stage": "pretrain", "kind": "gpt", "metrics": metrics, "pretrain_config": asdict(cfg),
            "command": "minilab pretrain " + " ".join(sys.argv[1:] if argv is None else argv),
            "git_commit": git_commit(), "data": args.text or f"world(seed={args.world_seed})"}
    save_checkpoint(args.out, model, tok, meta, force=args.force)
