"""Supervised fine-tuning (SFT): turn a base model that imitates "the internet" into an assistant.

The data are chat conversations written by (simulated) labelers, rendered by
`tokenizer.render_conversation` into token ids and a loss mask. The mask is *data*
(nanochat's choice): 1 on the tokens the assistant must learn to produce (its replies and
the `<|end|>` that closes them), 0 on the user's turns and the template. The loss is the
same next-token cross-entropy as in pretraining, averaged over masked tokens only
("assistant-only loss"); `loss_on="all"` trains on every token for comparison.

A conversation longer than the context cannot be trained on without cutting it; rather than
truncating silently, `build_dataset` raises an error that names the conversation.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from minilab.chat import evaluate_model
from minilab.history import SFTHistory
from minilab.losses import lm_loss
from minilab.optim import (SEED_MAX, LastGood, check_choice, check_int, check_optimizer_knobs, epoch_batches,
                           lr_at, make_optimizer, optimizer_step, set_lr)
from minilab.tokenizer import render_conversation

LOSS_ON = ("assistant", "all")


@dataclass
class SFTConfig:
    max_iters: int = 400          # optimizer steps
    batch_size: int = 32          # conversations per step
    lr: float = 1e-3              # peak learning rate (AdamW)
    min_lr: float = 1e-4          # learning rate at the end of the cosine decay
    warmup_iters: int = 20        # linear warm-up steps
    weight_decay: float = 0.0     # AdamW weight decay on matrices
    beta1: float = 0.9            # AdamW β1
    beta2: float = 0.95           # AdamW β2
    grad_clip: float = 1.0        # clip the gradient norm to this
    loss_on: str = "assistant"    # "assistant": assistant-only loss; "all": every token
    eval_interval: int = 100      # sample and score replies every this many steps (0: only at the end)
    eval_prompts: int = 64        # held-out prompts sampled at each evaluation
    max_new_tokens: int = 32      # reply budget when sampling
    seed: int = 0                 # data order and sampling

    def __post_init__(self):
        check_choice(self, "loss_on", LOSS_ON)
        check_optimizer_knobs(self)                     # max_iters, lr, min_lr, betas, ...
        check_int(self, "batch_size", 1)
        check_int(self, "eval_interval", 0)             # 0: evaluate only at the end
        check_int(self, "eval_prompts", 1)
        check_int(self, "max_new_tokens", 1)
        check_int(self, "seed", 0, SEED_MAX)


def build_dataset(tok, conversations: list[list[dict]], block_size: int) -> list[tuple[list[int], list[int]]]:
    """Render every conversation to (ids, mask); error on one that does not fit the context."""
    data = []
    for i, messages in enumerate(conversations):
        ids, mask = render_conversation(tok, messages)
        if len(ids) > block_size + 1:   # +1: inputs are ids[:-1], targets ids[1:]
            raise ValueError(f"conversation {i} is {len(ids)} tokens, longer than the context "
                             f"(block_size={block_size} + 1); shorten it or use a larger block_size")
        data.append((ids, mask))
    return data


def make_batch(data, rows: list[int], pad_id: int, loss_on: str = "assistant"):
    """Right-pad a batch. Returns inputs x, targets y (B, T) and the loss mask (B, T) for the targets."""
    T = max(len(data[i][0]) for i in rows) - 1
    x = torch.full((len(rows), T), pad_id, dtype=torch.long)
    y = torch.full((len(rows), T), pad_id, dtype=torch.long)
    m = torch.zeros(len(rows), T)
    for b, i in enumerate(rows):
        ids, mask = data[i]
        n = len(ids) - 1
        x[b, :n] = torch.tensor(ids[:-1])
        y[b, :n] = torch.tensor(ids[1:])
        # target t is ids[t+1]: it counts when that token is the assistant's (or always, for "all")
        m[b, :n] = torch.tensor(mask[1:], dtype=torch.float) if loss_on == "assistant" else 1.0
    return x, y, m


def sft(cfg: SFTConfig, model, tok, conversations, world=None, eval_prompts: list[str] | None = None,
        progress: bool = True, callback=None):
    """Fine-tune `model` in place on the conversations. Returns (model, history).

    history (an SFTHistory): iter, loss (per step); eval_iter, gold, well_formed, length (at each
    evaluation, when a world and held-out prompts are given).
    """
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    data = build_dataset(tok, conversations, model.config.block_size)
    pad_id = tok.special_id("<|pad|>")
    optimizer = make_optimizer(model, cfg)
    history = SFTHistory()
    last_good = LastGood(model, "SFT", history)    # the weights of the last step: a refused step changes nothing

    def evaluate(it):
        if world is None or not eval_prompts:
            return
        figures, _ = evaluate_model(model, tok, world, eval_prompts[:cfg.eval_prompts],
                                    cfg.max_new_tokens, seed=cfg.seed)
        history.record(eval_iter=it, gold=figures["gold"], well_formed=figures["well_formed"], length=figures["length"])
        if callback:
            callback(history)

    evaluate(0)
    model.train()
    batches = epoch_batches(len(data), cfg.batch_size, rng)
    for it in tqdm(range(cfg.max_iters), desc="SFT", disable=not progress):
        rows = next(batches)
        x, y, mask = make_batch(data, rows, pad_id, cfg.loss_on)
        set_lr(optimizer, lr_at(it, cfg))
        logits = model(x)                                              # (B, T, V)
        loss = lm_loss(logits, y, mask)
        optimizer_step(model, optimizer, loss, cfg.grad_clip, last_good, f"at step {it}")
        history.record(iter=it, loss=loss.item())
        if cfg.eval_interval and (it + 1) % cfg.eval_interval == 0 and it + 1 < cfg.max_iters:
            evaluate(it + 1)
    evaluate(cfg.max_iters)
    model.eval()
    return model, history
