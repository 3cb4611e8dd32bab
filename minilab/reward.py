"""The reward model: a GPT that reads (prompt, reply) and outputs one number, trained on pairwise preferences.

Design (InstructGPT, Ouyang et al. 2022, §3.5; Stiennon et al. 2020):
- Backbone: the SFT model's transformer, initialised from its weights, so the reward model starts
  out knowing the world as well as the policy does. Head: a linear layer on the residual stream
  at the *last token* of the sequence (the `<|end|>` of a finished reply, else its last token).
- Loss: Bradley–Terry, -log σ(r_chosen - r_rejected) (`losses.bradley_terry_loss`); when a
  pair was labelled by a whole panel, its vote share is a soft label
  (`losses.soft_bradley_terry_loss`, equal to the former for a unanimous vote). Only
  differences of rewards are learned, so the scale is arbitrary: after training we normalise the
  reward to mean 0, std 1 on replies sampled from the SFT model (the policy's starting point),
  and PPO's β means the same thing for every reward model.
- What we report: accuracy against the annotators' labels on held-out pairs, accuracy against
  the gold reward on *clear* held-out pairs (gold margin above a threshold), and the correlation
  of the reward with reply length, the footprint of the annotators' verbosity bias.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from minilab.checkpoint import load_checkpoint
from minilab.history import RewardHistory
from minilab.losses import soft_bradley_terry_loss
from minilab.model import GPT, scalar_head
from minilab.optim import (SEED_MAX, LastGood, check_float, check_int, check_optimizer_knobs, epoch_batches, lr_at,
                           make_optimizer, optimizer_step, set_lr)
from minilab.tokenizer import render_prompt


@dataclass
class RewardConfig:
    max_iters: int = 300         # optimizer steps
    batch_size: int = 32         # preference pairs per step
    lr: float = 5e-4             # peak learning rate (AdamW)
    min_lr: float = 5e-5         # learning rate at the end of the cosine decay
    warmup_iters: int = 20       # linear warm-up steps
    weight_decay: float = 0.0    # AdamW weight decay on matrices
    beta1: float = 0.9           # AdamW β1
    beta2: float = 0.95          # AdamW β2
    grad_clip: float = 1.0       # clip the gradient norm to this
    clear_margin: float = 0.5    # a held-out pair is "clear" when |gold(chosen) - gold(rejected)| >= this
    seed: int = 0                # data order

    def __post_init__(self):
        check_optimizer_knobs(self)                     # max_iters, lr, min_lr, betas, ...
        check_int(self, "batch_size", 1)
        check_float(self, "clear_margin", ge=0)
        check_int(self, "seed", 0, SEED_MAX)


class RewardModel(nn.Module):
    """GPT backbone + scalar head read at the last token; reward = (raw - mean) / std."""

    def __init__(self, backbone: GPT):
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        self.head = scalar_head(backbone.config.n_embd)
        self.register_buffer("reward_mean", torch.zeros(()))
        self.register_buffer("reward_std", torch.ones(()))

    def raw(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Unnormalised rewards. idx (B, T) right-padded, lengths (B,) -> (B,)"""
        _, hidden = self.backbone(idx, return_hidden=True)                 # (B, T, C)
        last = hidden[torch.arange(idx.shape[0]), lengths - 1]             # (B, C): the last real token
        return self.head(last).squeeze(-1)                                 # (B,)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return (self.raw(idx, lengths) - self.reward_mean) / self.reward_std


class ValueModel(nn.Module):
    """PPO's value function started from a reward model (InstructGPT §3.5): the same backbone
    and head, read at every position instead of the last, in the reward's normalised units.
    It is a copy: training it leaves the reward model unchanged."""

    def __init__(self, rm: RewardModel):
        super().__init__()
        rm = copy.deepcopy(rm)
        self.backbone, self.head = rm.backbone, rm.head
        self.register_buffer("reward_mean", rm.reward_mean.clone())
        self.register_buffer("reward_std", rm.reward_std.clone())

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """idx (B, L) -> values (B, L): the reward the model expects after each prefix."""
        _, hidden = self.backbone(idx, return_hidden=True)                 # (B, L, C)
        return (self.head(hidden).squeeze(-1) - self.reward_mean) / self.reward_std


def encode_reply(tok, prompt: str, text: str, ended: bool) -> list[int]:
    """The sequence a reward model reads: rendered prompt + reply (+ <|end|> when the reply ended)."""
    ids = render_prompt(tok, prompt) + tok.encode(text, allowed_special="none")
    return ids + [tok.special_id("<|end|>")] if ended else ids


def pad_batch(seqs: list[list[int]], pad_id: int, block_size: int):
    """Right-pad token lists into (B, T) and their lengths (B,); too-long sequences keep their last tokens."""
    seqs = [s[-block_size:] for s in seqs]
    T = max(len(s) for s in seqs)
    idx = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for b, s in enumerate(seqs):
        idx[b, :len(s)] = torch.tensor(s)
    return idx, torch.tensor([len(s) for s in seqs])


@torch.no_grad()
def score_ids(rm: RewardModel, seqs: list[list[int]], pad_id: int, batch_size: int = 256) -> torch.Tensor:
    """Normalised reward of each token sequence (rendered prompt + reply [+ <|end|>]). -> (N,)"""
    rm.eval()
    out = []
    for s in range(0, len(seqs), batch_size):
        idx, lengths = pad_batch(seqs[s:s + batch_size], pad_id, rm.config.block_size)
        out.append(rm(idx, lengths))
    return torch.cat(out)


def score(rm: RewardModel, tok, prompts: list[str], texts: list[str], ended: list[bool],
          batch_size: int = 256) -> torch.Tensor:
    """Normalised reward of each (prompt, reply) given as text. -> (N,)"""
    seqs = [encode_reply(tok, p, t, e) for p, t, e in zip(prompts, texts, ended)]
    return score_ids(rm, seqs, tok.special_id("<|pad|>"), batch_size)


def _pair_tensors(tok, pairs, block_size):
    pad_id = tok.special_id("<|pad|>")
    chosen = [encode_reply(tok, p.prompt, p.chosen.text, p.chosen.ended) for p in pairs]
    rejected = [encode_reply(tok, p.prompt, p.rejected.text, p.rejected.ended) for p in pairs]
    idx, lengths = pad_batch(chosen + rejected, pad_id, block_size)
    return idx, lengths, len(pairs)


def train_reward_model(cfg: RewardConfig, backbone: GPT, tok, pairs, val_pairs=None, progress: bool = True):
    """Train a reward model on preference pairs (each with .prompt, .chosen, .rejected). Returns (rm, history)."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    rm = RewardModel(backbone)
    rm.train()
    optimizer = make_optimizer(rm, cfg)
    history = RewardHistory()
    last_good = LastGood(rm, "reward-model training", history)   # the weights of the last step
    batches = epoch_batches(len(pairs), cfg.batch_size, rng)
    for it in tqdm(range(cfg.max_iters), desc="reward model", disable=not progress):
        rows = next(batches)
        idx, lengths, n = _pair_tensors(tok, [pairs[i] for i in rows], rm.config.block_size)
        set_lr(optimizer, lr_at(it, cfg))
        rewards = rm.raw(idx, lengths)                                      # (2n,): chosen then rejected
        r_chosen, r_rejected = rewards[:n], rewards[n:]
        p_chosen = torch.tensor([getattr(pairs[i], "p_chosen", 1.0) for i in rows])   # vote shares (1: hard labels)
        loss = soft_bradley_terry_loss(r_chosen, r_rejected, p_chosen)
        optimizer_step(rm, optimizer, loss, cfg.grad_clip, last_good, f"at step {it}")
        history.record(iter=it, loss=loss.item(), acc=(r_chosen > r_rejected).float().mean().item())
    rm.eval()
    return rm, history


@torch.no_grad()
def normalize(rm: RewardModel, tok, prompts: list[str], texts: list[str], ended: list[bool]) -> dict:
    """Set the reward's mean to 0 and std to 1 on these replies (sampled from the SFT model)."""
    rm.reward_mean.zero_()
    rm.reward_std.fill_(1.0)
    raw = score(rm, tok, prompts, texts, ended)
    rm.reward_mean.fill_(raw.mean().item())
    rm.reward_std.fill_(raw.std().clamp(min=1e-6).item())
    return {"raw_mean": raw.mean().item(), "raw_std": raw.std().item()}


@torch.no_grad()
def evaluate_reward_model(rm: RewardModel, tok, world, pairs, clear_margin: float = 0.5) -> dict:
    """Held-out accuracy vs the annotators' labels (the chosen reply) and vs the gold reward on clear pairs,
    overall and split by kind of pair; the reward's correlation with reply length and with gold."""
    prompts = [p.prompt for p in pairs] * 2
    texts = [p.chosen.text for p in pairs] + [p.rejected.text for p in pairs]
    ended = [p.chosen.ended for p in pairs] + [p.rejected.ended for p in pairs]
    rewards = score(rm, tok, prompts, texts, ended)
    n = len(pairs)
    margin = rewards[:n] - rewards[n:]
    gold = torch.tensor([world.gold_reward(p, t, e) for p, t, e in zip(prompts, texts, ended)])
    gold_margin = gold[:n] - gold[n:]
    clear = gold_margin.abs() >= clear_margin
    agree = (margin > 0) == (gold_margin > 0)
    # kind of pair: one reply states the right value and the other does not, or only style differs
    facts = torch.tensor([world.judge(p.prompt, p.chosen.text).correct != world.judge(p.prompt, p.rejected.text).correct
                          for p in pairs])
    share = lambda m: agree[m].float().mean().item() if m.any() else float("nan")
    lengths = torch.tensor([len(t.split()) for t in texts], dtype=torch.float)
    return {
        "acc_annotators": (margin > 0).float().mean().item(),
        "acc_gold": share(clear),
        "acc_gold_facts": share(clear & facts),          # right vs wrong value
        "acc_gold_style": share(clear & ~facts),         # same correctness, other differences
        "clear_pairs": int(clear.sum()),
        "corr_length": torch.corrcoef(torch.stack([rewards, lengths]))[0, 1].item(),
        "corr_gold": torch.corrcoef(torch.stack([rewards, gold]))[0, 1].item(),
    }


def reward_fn(rm: RewardModel, tok):
    """The reward function PPO calls: samples (chat.Sample) -> normalised reward-model scores (B,).
    It scores the sampled token ids themselves: decoding and re-encoding a reply can give other
    tokens (a sampled byte piece that is not valid UTF-8 decodes to U+FFFD)."""
    pad_id = tok.special_id("<|pad|>")

    def fn(samples):
        return score_ids(rm, [s.prompt_ids + s.response_ids for s in samples], pad_id)
    return fn


def reward_model_tensors(rm: RewardModel) -> dict:
    """The reward model's own tensors (head and normalisation), saved beside the backbone's weights."""
    return {"head.weight": rm.head.weight, "head.bias": rm.head.bias,
            "reward_mean": rm.reward_mean, "reward_std": rm.reward_std}


def load_reward_model(name_or_path):
    """(rm, tokenizer, meta) from a checkpoint saved with reward_model_tensors (e.g. bundled "rm-nano")."""
    backbone, tok, meta = load_checkpoint(name_or_path)
    extra = meta.pop("extra_tensors", {})
    if meta.get("kind") != "reward_model" or set(extra) != set(reward_model_tensors(RewardModel(backbone))):
        raise ValueError(f"{name_or_path}: not a reward-model checkpoint (kind={meta.get('kind')!r}, "
                         f"extra tensors {sorted(extra)}); reward models are saved as kind 'reward_model'")
    rm = RewardModel(backbone)
    rm.load_state_dict({**rm.state_dict(), **extra})
    rm.eval()
    return rm, tok, meta
