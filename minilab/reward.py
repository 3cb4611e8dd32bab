"""The reward model: a GPT that reads (prompt, reply) and outputs one number, trained on pairwise preferences.

Design (InstructGPT, Ouyang et al. 2022, §3.5; Stiennon et al. 2020):
- Backbone: the SFT model's transformer, initialised from its weights, so the reward model starts
  out knowing the world as well as the policy does. Head: a linear layer on the residual stream
  at the *last token* of the sequence (the `<|end|>` of a finished reply, else its last token).
- Likelihood term (`reference=`): a tiny model knows a fact as a next-token prediction ("Ada
  lives in" -> "Rosby"), and a head that reads one position does not get that knowledge out: on
  the SFT policy's own replies a head-only reward model ranks right above wrong 0.55-0.66 of the
  time, while the SFT model's own log-likelihood of the reply ranks them 0.84 (nano) and 0.92
  (micro). So the reward model can also read how likely the frozen SFT model it started from
  finds the reply, with a learned weight:
      raw(x, y) = head(h_last) + w * sum_t [log p_ref(y_t | x, y_<t) + H_t]
  where H_t is the entropy of p_ref at that place: adding it makes the term average 0 over the
  reference's own replies, whatever their length (the plain log-likelihood falls with every
  token, and a policy optimised against it learns to stop answering: "Lara Ren。").
  Both the head and w are trained on the preferences; p_ref stays frozen (it is the knowledge,
  the head learns what the labelers like on top of it). DPO's implied reward, beta * log
  pi/pi_ref, is the same idea taken further (notebook 11).
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
from minilab.gold import gold_agreement
from minilab.tokenizer import encode_reply, render_prompt  # noqa: F401  (reward.encode_reply: older imports)


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
    loglik_weight: float = 0.25  # starting weight w of the likelihood term (a reply's term spans ~10 nats)
    seed: int = 0                # data order

    def __post_init__(self):
        check_optimizer_knobs(self)                     # max_iters, lr, min_lr, betas, ...
        check_int(self, "batch_size", 1)
        check_float(self, "clear_margin", ge=0)
        check_float(self, "loglik_weight", ge=0)
        check_int(self, "seed", 0, SEED_MAX)


class RewardModel(nn.Module):
    """GPT backbone + scalar head read at the last token (+ w * the frozen reference model's surprise
    at the reply, sum_t [log p_ref + H_t], when one is given); reward = (raw - mean) / std.

    reference: the frozen model whose surprise at the reply is read (the SFT model the backbone
    starts from); reply_start_id: the token after which the reply begins (<|assistant|>)."""

    def __init__(self, backbone: GPT, reference: GPT | None = None, reply_start_id: int | None = None,
                 loglik_weight: float = 1.0):
        super().__init__()
        if (reference is None) != (reply_start_id is None):
            raise ValueError("RewardModel: give both reference and reply_start_id (the <|assistant|> id), or neither")
        if reference is not None and reference.config.vocab_size != backbone.config.vocab_size:
            raise ValueError(f"RewardModel: the reference's vocabulary ({reference.config.vocab_size}) differs "
                             f"from the backbone's ({backbone.config.vocab_size}); both must share one tokenizer")
        self.backbone = backbone
        self.config = backbone.config
        self.head = scalar_head(backbone.config.n_embd)
        self.register_buffer("reward_mean", torch.zeros(()))
        self.register_buffer("reward_std", torch.ones(()))
        self.reference = reference
        if reference is not None:
            reference.requires_grad_(False).eval()
            self.loglik_weight = nn.Parameter(torch.tensor(float(loglik_weight)))   # learned with the head
            self.register_buffer("reply_start_id", torch.tensor(int(reply_start_id)))

    def train(self, mode: bool = True):
        super().train(mode)
        if self.reference is not None:
            self.reference.eval()                                    # frozen: never dropout
        return self

    def raw(self, idx: torch.Tensor, lengths: torch.Tensor, loglik: torch.Tensor | None = None) -> torch.Tensor:
        """Unnormalised rewards. idx (B, T) right-padded, lengths (B,) -> (B,)
        loglik: these rows' reply_loglik, when already computed (it never changes: the reference is frozen)."""
        reward = self.head_reward(idx, lengths)                            # (B,)
        if self.reference is not None:
            reward = reward + self.loglik_weight * (self.reply_loglik(idx, lengths) if loglik is None else loglik)
        return reward

    def head_reward(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The head's part of the raw reward, read at each row's last real token.   -> (B,)"""
        _, hidden = self.backbone(idx, return_hidden=True)                 # (B, T, C)
        last = hidden[torch.arange(idx.shape[0]), lengths - 1]             # (B, C): the last real token
        return self.head(last).squeeze(-1)

    @torch.no_grad()
    def token_surprise(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """log p_ref(token) + H(p_ref) at each reply token (0 elsewhere): how much likelier the token
        is than the reference expected at that place. Its mean over the reference's own samples is 0,
        so a reply earns nothing for being short or long, only for being likelier (a confident,
        known answer) or less likely (a wrong value, garbage) than usual.
        (B, T), (B,) -> (B, T), position t holding the term of token t."""
        B, T = idx.shape
        logp = torch.log_softmax(self.reference(idx)[:, :-1].float(), dim=-1)       # (B, T-1, V): predicts t+1
        taken = logp.gather(-1, idx[:, 1:, None]).squeeze(-1)                        # (B, T-1)
        entropy = -(logp.exp() * logp).sum(-1)                                       # (B, T-1)
        pos = torch.arange(1, T)[None, :]                                            # position of each scored token
        start = torch.where(idx == self.reply_start_id, torch.arange(T)[None, :], -1).max(1).values[:, None]
        in_reply = (pos > start) & (pos < lengths[:, None]) & (start >= 0)
        out = torch.zeros(B, T)
        out[:, 1:] = (taken + entropy) * in_reply
        return out

    def reply_loglik(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The likelihood term's sum over the reply: sum_t [log p_ref(y_t) + H_t].   -> (B,)"""
        return self.token_surprise(idx, lengths).sum(1)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return (self.raw(idx, lengths) - self.reward_mean) / self.reward_std

    @torch.no_grad()
    def token_rewards(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The normalised reward spread over the positions it comes from: w * (log p_ref + H) / std
        at each reply token, and (head - mean) / std added at the last token. Rows sum to forward().
        (B, T), (B,) -> (B, T), position t holding the reward for token t."""
        B, T = idx.shape
        out = torch.zeros(B, T)
        out[torch.arange(B), lengths - 1] = (self.head_reward(idx, lengths) - self.reward_mean) / self.reward_std
        if self.reference is not None:
            out += self.loglik_weight / self.reward_std * self.token_surprise(idx, lengths)
        return out


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


@torch.no_grad()
def reply_logliks(rm: RewardModel, seqs: list[list[int]], pad_id: int, batch_size: int = 256) -> torch.Tensor:
    """The likelihood term (RewardModel.reply_loglik) of each token sequence, in batches of similar
    length (less padding to run through the reference). -> (N,)"""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = torch.empty(len(seqs))
    for s in range(0, len(seqs), batch_size):
        rows = order[s:s + batch_size]
        out[rows] = rm.reply_loglik(*pad_batch([seqs[i] for i in rows], pad_id, rm.config.block_size))
    return out


def raw_by_length(rm: RewardModel, idx: torch.Tensor, lengths: torch.Tensor, loglik: torch.Tensor | None = None,
                  short_share: float = 0.75) -> torch.Tensor:
    """rm.raw of a right-padded batch in two passes: the shortest rows, cut to their own longest
    length, then the rest. Causal attention never reads the padding after a row's end, so every
    row gets the reward one pass would give it (up to float rounding), and the short rows stop paying
    for the long ones' padding (the nano pipeline's batches were 57% padding: 61 -> 36 ms a step).
    idx (B, T), lengths (B,), loglik (B,) or None -> (B,)"""
    order = torch.argsort(lengths, stable=True)
    k = max(1, int(len(order) * short_share))
    parts = [rows for rows in (order[:k], order[k:]) if len(rows)]
    rewards = [rm.raw(idx[rows, :int(lengths[rows].max())], lengths[rows], None if loglik is None else loglik[rows])
               for rows in parts]
    return torch.cat(rewards)[torch.argsort(torch.cat(parts))]     # back in the batch's order


def train_reward_model(cfg: RewardConfig, backbone: GPT, tok, pairs, val_pairs=None, progress: bool = True,
                       reference: GPT | None = None):
    """Train a reward model on preference pairs (each with .prompt, .chosen, .rejected). Returns (rm, history).
    reference: a frozen model whose surprise at the reply the reward model reads with a learned
    weight (see the module docstring); None: the head alone."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    rm = RewardModel(backbone, reference, tok.special_id("<|assistant|>") if reference is not None else None,
                     loglik_weight=cfg.loglik_weight)
    rm.train()
    optimizer = make_optimizer(rm, cfg)
    history = RewardHistory()
    last_good = LastGood(rm, "reward-model training", history)   # the weights of the last step
    # every reply tokenised once: chosen ones at 0..N-1, rejected ones at N..2N-1
    pad_id, n_pairs = tok.special_id("<|pad|>"), len(pairs)
    seqs = ([encode_reply(tok, p.prompt, p.chosen.text, p.chosen.ended) for p in pairs]
            + [encode_reply(tok, p.prompt, p.rejected.text, p.rejected.ended) for p in pairs])
    # the frozen reference's term of every reply, computed once (recomputing it each step took a third of the time)
    loglik = reply_logliks(rm, seqs, pad_id) if reference is not None else None
    p_chosen = torch.tensor([float(getattr(p, "p_chosen", 1.0)) for p in pairs])   # vote shares (1: hard labels)
    batches = epoch_batches(n_pairs, cfg.batch_size, rng)
    for it in tqdm(range(cfg.max_iters), desc="reward model", disable=not progress):
        rows = next(batches)
        both = rows + [n_pairs + i for i in rows]                           # chosen then rejected
        idx, lengths = pad_batch([seqs[i] for i in both], pad_id, rm.config.block_size)
        set_lr(optimizer, lr_at(it, cfg))
        rewards = raw_by_length(rm, idx, lengths, None if loglik is None else loglik[both])   # (2n,): chosen, rejected
        n = len(rows)
        r_chosen, r_rejected = rewards[:n], rewards[n:]
        loss = soft_bradley_terry_loss(r_chosen, r_rejected, p_chosen[rows])
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
    lengths = torch.tensor([len(t.split()) for t in texts], dtype=torch.float)
    return {
        "acc_annotators": (margin > 0).float().mean().item(),
        **gold_agreement(world, pairs, margin.tolist(), clear_margin),
        "corr_length": torch.corrcoef(torch.stack([rewards, lengths]))[0, 1].item(),
        "corr_gold": torch.corrcoef(torch.stack([rewards, gold]))[0, 1].item(),
    }


def reward_fn(rm: RewardModel, tok, per_token: bool = False):
    """The reward function PPO calls: samples (chat.Sample) -> normalised reward-model scores (B,).
    It scores the sampled token ids themselves: decoding and re-encoding a reply can give other
    tokens (a sampled byte piece that is not valid UTF-8 decodes to U+FFFD).
    per_token: return (B, R) instead, the reward of each sampled reply token (`token_rewards`,
    right-padded with 0); each row sums to the score. PPO then credits the likelihood term to the
    token that earned it instead of to the whole reply."""
    pad_id = tok.special_id("<|pad|>")

    def fn(samples):
        seqs = [s.prompt_ids + s.response_ids for s in samples]
        if not per_token:
            return score_ids(rm, seqs, pad_id)
        rm.eval()
        R = max(1, max(len(s.response_ids) for s in samples))
        out = torch.zeros(len(samples), R)
        for start in range(0, len(seqs), 256):
            chunk = seqs[start:start + 256]
            idx, lengths = pad_batch(chunk, pad_id, rm.config.block_size)
            rewards = rm.token_rewards(idx, lengths)
            for b, s in enumerate(samples[start:start + 256]):
                n, L = len(s.response_ids), int(lengths[b])
                if n:
                    out[start + b, :n] = rewards[b, L - n:L]
                else:                                   # an empty reply: its whole score at position 0
                    out[start + b, 0] = rewards[b, :L].sum()
        return out
    return fn


def reward_model_tensors(rm: RewardModel) -> dict:
    """The reward model's own tensors (head, normalisation, and the likelihood term's weight, start
    token and frozen reference model), saved beside the backbone's weights."""
    tensors = {"head.weight": rm.head.weight, "head.bias": rm.head.bias,
               "reward_mean": rm.reward_mean, "reward_std": rm.reward_std}
    if rm.reference is not None:
        tensors.update({"loglik_weight": rm.loglik_weight, "reply_start_id": rm.reply_start_id,
                        **{f"reference.{k}": v for k, v in rm.reference.state_dict().items()}})
    return tensors


def load_reward_model(name_or_path):
    """(rm, tokenizer, meta) from a checkpoint saved with reward_model_tensors (e.g. bundled "rm-nano")."""
    backbone, tok, meta = load_checkpoint(name_or_path)
    extra = meta.pop("extra_tensors", {})
    reference = None
    if "loglik_weight" in extra:
        reference = GPT(copy.deepcopy(backbone.config))
        wanted = set(reference.state_dict())
        given = {k.removeprefix("reference."): v for k, v in extra.items() if k.startswith("reference.")}
        if set(given) != wanted:
            raise ValueError(f"{name_or_path}: the reward model's reference weights do not match its config "
                             f"(missing {sorted(wanted - set(given))[:3]}, unexpected {sorted(set(given) - wanted)[:3]})")
        reference.load_state_dict(given)
    start_id = int(extra.get("reply_start_id", tok.special_id("<|assistant|>"))) if reference is not None else None
    rm = RewardModel(backbone, reference, start_id)
    if meta.get("kind") != "reward_model" or set(extra) != set(reward_model_tensors(rm)):
        raise ValueError(f"{name_or_path}: not a reward-model checkpoint (kind={meta.get('kind')!r}, "
                         f"extra tensors {sorted(extra)[:8]}); reward models are saved as kind 'reward_model'")
    rm.load_state_dict({**rm.state_dict(), **{k: v for k, v in extra.items() if not k.startswith("reference.")}})
    rm.eval()
    return rm, tok, meta
