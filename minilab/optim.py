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
last step (the refused step changed nothing). A stage may treat Ctrl-C the same way
(`LastGood.interrupted`: pretraining does), so `minilab pretrain --out` can save what it has.

One policy for a bad config value, in every stage: each config's `__post_init__` checks every
field with the `check_*` helpers below, so a bad value fails when the config is made, in one
line that names the config, the field, the value and what is allowed (`PPOConfig.lr must be a
finite number > 0, got inf`), not later in torch. A bool is not a number here.
"""
from __future__ import annotations

import math
import numbers
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


# ---------------------------------------------------------------- config checks

SEED_MAX = 2**32 - 1   # seeds are integers in [0, SEED_MAX] (numpy's range; PPO's rollout seeds stay < 2**63)


def _bad_value(cfg, name: str, allowed: str) -> ValueError:
    """`Config.name must be <allowed>, got <value>`; the type is shown where repr hides it (True: a bool)."""
    value = getattr(cfg, name)
    plain = isinstance(value, (numbers.Real, str, type(None))) and not isinstance(value, bool)
    shown = f"{value!r}" if plain else f"{value!r} ({type(value).__name__})"
    return ValueError(f"{type(cfg).__name__}.{name} must be {allowed}, got {shown}")


def check_int(cfg, name: str, lo: int, hi: int | None = None, optional: bool = False) -> None:
    """cfg.name is an integer in [lo, hi] (None allowed when optional). A bool is not an integer here."""
    value = getattr(cfg, name)
    if optional and value is None:
        return
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and lo <= value and (hi is None or value <= hi):
        return
    allowed = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
    raise _bad_value(cfg, name, allowed + (" or None" if optional else ""))


def check_float(cfg, name: str, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
                le: float | None = None, optional: bool = False) -> None:
    """cfg.name is a finite real number (an int will do; a bool will not) within the bounds given:
    gt/ge below (> or >=), lt/le above (< or <=). None is allowed when optional."""
    value = getattr(cfg, name)
    if optional and value is None:
        return
    if (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            and (gt is None or value > gt) and (ge is None or value >= ge)
            and (lt is None or value < lt) and (le is None or value <= le)):
        return
    lo, hi = (gt if gt is not None else ge), (lt if lt is not None else le)
    if lo is not None and hi is not None:
        interval = ("(" if gt is not None else "[") + f"{lo}, {hi}" + (")" if lt is not None else "]")
        allowed = f"in the open interval {interval}" if gt is not None and lt is not None else f"in {interval}"
    else:
        bounds = [f"> {gt}" if gt is not None else f">= {ge}" if ge is not None else "",
                  f"< {lt}" if lt is not None else f"<= {le}" if le is not None else ""]
        allowed = " ".join(["a finite number"] + [b for b in bounds if b])
    raise _bad_value(cfg, name, allowed + (" or None" if optional else ""))


def check_bool(cfg, name: str) -> None:
    """cfg.name is True or False (not 0, 1 or "no")."""
    if not isinstance(getattr(cfg, name), bool):
        raise _bad_value(cfg, name, "True or False")


def check_choice(cfg, name: str, allowed, optional: bool = False) -> None:
    """cfg.name is one of the strings `allowed` (or None when optional)."""
    value = getattr(cfg, name)
    if (optional and value is None) or (isinstance(value, str) and value in allowed):
        return
    raise ValueError(f"{type(cfg).__name__}.{name}={value!r} is unknown; allowed: {', '.join(allowed)}"
                     + (" (or None)" if optional else ""))


def check_device(cfg, name: str) -> None:
    """cfg.name is a string torch reads as a device ("cpu", "cuda", "cuda:1", "mps")."""
    try:
        ok = isinstance(getattr(cfg, name), str) and torch.device(getattr(cfg, name)) is not None
    except RuntimeError:   # torch's "Expected one of cpu, cuda, ... at start of device string"
        ok = False
    if not ok:
        raise _bad_value(cfg, name, "a torch device name such as 'cpu' or 'cuda'")


def check_at_most(cfg, name: str, other: str) -> None:
    """cfg.name <= cfg.other (both already checked to be numbers), e.g. min_lr <= lr."""
    if getattr(cfg, name) > getattr(cfg, other):
        raise _bad_value(cfg, name, f"<= {other} = {getattr(cfg, other)!r}")


def check_optimizer_knobs(cfg) -> None:
    """The fields every stage with a schedule and AdamW has (`Schedule`, `AdamWKnobs`, grad_clip)."""
    check_int(cfg, "max_iters", 1)
    check_int(cfg, "warmup_iters", 0)
    check_float(cfg, "lr", gt=0)
    check_float(cfg, "min_lr", ge=0)
    check_at_most(cfg, "min_lr", "lr")
    check_float(cfg, "weight_decay", ge=0)
    check_float(cfg, "beta1", ge=0, lt=1)
    check_float(cfg, "beta2", ge=0, lt=1)
    check_float(cfg, "grad_clip", ge=0)   # 0: no clipping


class TrainingDiverged(FloatingPointError):
    """The loss or the gradient became inf/NaN. `model` holds the last good weights; `history`
    the run so far."""

    def __init__(self, message, model, history):
        super().__init__(message)
        self.model, self.history = model, history


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training. `model` holds the last good weights; `history` the run so far."""

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

    def restore(self) -> None:
        if self.state is not None:
            self.model.load_state_dict(self.state)

    def interrupted(self, where: str) -> TrainingInterrupted:
        """For Ctrl-C: restore the last good weights; returns the exception to raise."""
        self.restore()
        return TrainingInterrupted(f"{self.stage} interrupted {where}; the model is restored to its last good weights",
                                   self.model, self.history)

    def check(self, where: str, hint: str = "Try a lower lr.", **values: float) -> None:
        if all(math.isfinite(v) for v in values.values()):
            return
        self.restore()
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
