"""Training plumbing shared by every stage: the learning-rate schedule, the optimizer, the
batch order, one optimizer step, and one policy for a non-finite loss.

Each stage (pretrain, sft, reward, ppo) writes its own loop and imports these; none imports
another stage. The schedule and the optimizer read their knobs from any object that has them
(`Schedule`, `AdamWKnobs`: PretrainConfig, SFTConfig and RewardConfig all do), so this module
knows no stage's config.

- `lr_at`: linear warmup, then cosine decay to `min_lr` (Loshchilov & Hutter 2017, SGDR Eq. 5).
- `make_optimizer`: AdamW (Loshchilov & Hutter 2019) with weight decay on matrices only (not on
  the norm gains), as in GPT-2/nanoGPT.
- `epoch_batches`: every epoch a fresh shuffle; a batch may straddle two epochs.
- `optimizer_step`: zero the gradients, backward, clip the global gradient norm (0: no
  clipping), step.

One policy for a non-finite loss, in every stage: the step that meets an inf/NaN loss or
gradient norm is not taken; the model is restored to its last good weights and
`TrainingDiverged` is raised, carrying the model and the history so far. Each stage says which
weights are good (`LastGood.save`): pretraining saves them at each evaluation with a finite
validation loss, PPO before each update; SFT and the reward model keep the weights of their
last step (the refused step changed nothing).
"""
from __future__ import annotations

import math
from typing import Protocol

import torch


class Schedule(Protocol):
    lr: float              # peak learning rate, reached after warmup
    min_lr: float          # learning rate at the end of the cosine decay
    warmup_iters: int      # iterations of linear warmup
    max_iters: int         # length of the schedule


class AdamWKnobs(Protocol):
    lr: float
    weight_decay: float    # applied to matrices only
    beta1: float
    beta2: float


def lr_at(it: int, cfg: Schedule) -> float:
    """Learning rate of iteration `it` (0-based): linear warmup, then cosine decay to min_lr."""
    if it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / cfg.warmup_iters
    progress = (it - cfg.warmup_iters) / max(1, cfg.max_iters - cfg.warmup_iters)  # 0 -> 1
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) * (cfg.lr - cfg.min_lr)  # SGDR Eq. 5


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Use learning rate `lr` from the next step on."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def make_optimizer(model, cfg: AdamWKnobs) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices (embedding, attention, MLP) only."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]  # norm gains
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=True)


def epoch_batches(n_items: int, batch_size: int, rng):
    """Batches of indices into a dataset, forever: every epoch is a fresh shuffle of
    range(n_items), and a batch may straddle two epochs (so any batch_size works)."""
    order: list[int] = []
    while True:
        while len(order) < batch_size:
            order += rng.sample(range(n_items), n_items)
        yield order[:batch_size]
        order = order[batch_size:]


class TrainingDiverged(FloatingPointError):
    """The loss or the gradient became inf/NaN. `model` holds the last good weights; `history`
    the run so far."""

    def __init__(self, message, model, history):
        super().__init__(message)
        self.model, self.history = model, history


class LastGood:
    """The weights a stage falls back on when its loss stops being finite.

    `save()` where the stage knows the weights are good; `check(...)` restores them (when saved)
    and raises TrainingDiverged if any value is not finite."""

    def __init__(self, model, stage: str, history):
        self.model, self.stage, self.history = model, stage, history
        self.state: dict | None = None

    def save(self) -> None:
        self.state = {k: v.clone() for k, v in self.model.state_dict().items()}

    def check(self, where: str, hint: str = "Try a lower lr.", **values: float) -> None:
        if all(math.isfinite(v) for v in values.values()):
            return
        if self.state is not None:
            self.model.load_state_dict(self.state)
        shown = ", ".join(f"{name.replace('_', ' ')}={value}" for name, value in values.items())
        raise TrainingDiverged(f"{self.stage} diverged {where}: {shown}; the model is restored to its last good "
                               f"weights. {hint}", self.model, self.history)


def optimizer_step(model, optimizer, loss: torch.Tensor, grad_clip: float, last_good: LastGood,
                   where: str, **shown: float) -> float:
    """1. zero the gradients, 2. backward, 3. clip their global norm to grad_clip (0: no clipping),
    4. step, unless the loss or the gradient norm is not finite (then `last_good` restores the
    model and raises TrainingDiverged). Returns the gradient norm before clipping."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip or float("inf")).item()
    last_good.check(where, loss=loss.item(), grad_norm=grad_norm, **shown)
    optimizer.step()
    return grad_norm
