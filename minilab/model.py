"""The tiny GPT: a decoder-only transformer that predicts the next token.

One forward pass reads token ids `idx` (B, T) and returns `logits` (B, T, V): at
every position, a score for every possible next token. Everything in later stages
(SFT, the reward model, PPO) is this same network, read in different ways.

The shape follows nanoGPT (GPT-2, Radford et al. 2019), with the modern choices of
LLaMA (Touvron et al. 2023) that make a *small* model train faster and better:

- Rotary position embeddings (RoPE, Su et al. 2021, https://arxiv.org/abs/2104.09864)
  instead of a learned position table: position enters as a rotation of queries and
  keys, so attention scores depend on the *relative* distance. Nothing to learn, and
  a small model does not spend parameters or early iterations learning positions.
- RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467), applied *before*
  each sub-layer (pre-norm, as in GPT-2): it only rescales (no mean to subtract, no
  bias), and pre-norm keeps a clean residual path, so larger learning rates stay
  stable. (On CPU, torch's fused LayerNorm kernel is in fact faster; the gain is in
  the optimisation: with RoPE, the loss nanoGPT reaches in 2000 iterations on tiny
  Shakespeare is reached in about 1200.)
- No biases in the linear layers (as in PaLM / LLaMA): fewer parameters, same loss.
- Tied input/output embeddings (Press & Wolf 2017, https://arxiv.org/abs/1608.05859):
  at this size the embedding table is a large share of all parameters.
- Attention with `F.scaled_dot_product_attention`, which picks a fused kernel.
- MLP of width 4x with GELU (Hendrycks & Gimpel 2016), as in GPT-2.

`generate` samples with a key/value cache: the prompt is read once, then each new
token costs one position of compute (the keys and values of earlier positions are
kept in a preallocated buffer instead of being recomputed).
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from minilab.config import GPTConfig


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight   (Zhang & Sennrich 2019, Eq. 4)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)


def rotary_tables(head_size: int, max_len: int, base: float = 10000.0):
    """cos and sin of the rotation angles pos * theta_i, each (max_len, head_size/2).
    theta_i = base^(-2i/d) as in RoFormer (Su et al. 2021, Eq. 15)."""
    inv_freq = base ** (-torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)  # (hs/2,)
    angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)  # (max_len, hs/2)
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    """Rotate each pair (x1_i, x2_i) of channels by its angle (RoFormer Eq. 34).
    x (..., hs) and cos, sin (..., hs/2) broadcast against each other. Pairs are the two
    halves of the head (the GPT-NeoX / LLaMA layout): the same rotation, channels permuted."""
    x1, x2 = x.chunk(2, dim=-1)  # (..., hs/2) each
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (..., hs)


class KVCache:
    """Keys and values of the positions seen so far, for every layer, preallocated
    for `max_len` positions. `pos` is how many positions are filled."""

    def __init__(self, config: GPTConfig, batch_size: int, max_len: int, device=None, dtype=torch.float32):
        hs = config.n_embd // config.n_head
        shape = (config.n_layer, batch_size, config.n_head, max_len, hs)  # (L, B, nh, max_len, hs)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.pos = 0

    def update(self, layer: int, k, v):
        """Store k, v (B, nh, T, hs) after the filled positions; return all keys and
        values so far, each (B, nh, pos + T, hs). GPT.forward advances `pos`."""
        end = self.pos + k.size(2)
        if end > self.k.size(3):
            raise ValueError(f"KV cache holds {self.k.size(3)} positions; cannot add {k.size(2)} after {self.pos}")
        self.k[layer, :, :, self.pos:end] = k
        self.v[layer, :, :, self.pos:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)  # q, k, v in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, cos, sin, kv_cache=None, layer=0, attn_mask=None):
        B, T, C = x.shape
        qkv = self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head)  # (B, T, 3, nh, hs)
        qk = apply_rotary(qkv[:, :, :2], cos, sin)  # (B, T, 2, nh, hs): q and k rotated in one go
        q, k = qk.transpose(1, 3).unbind(2)  # (B, nh, 2, T, hs) -> (B, nh, T, hs) each
        v = qkv[:, :, 2].transpose(1, 2)  # (B, nh, T, hs)
        past = 0
        if kv_cache is not None:
            past = kv_cache.pos
            k, v = kv_cache.update(layer, k, v)  # (B, nh, past + T, hs)
        # Causal mask: query i (at position past + i) sees keys 0 .. past + i.
        if attn_mask is not None:
            mask, causal = attn_mask, False  # (B, 1, T, past + T): causal and padding, built by GPT.forward
        elif past == 0:
            mask, causal = None, T > 1
        elif T == 1:
            mask, causal = None, False  # one new token sees everything before it
        else:
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)  # (T, past + T)
            causal = False
        y = F.scaled_dot_product_attention(  # softmax(q k^T / sqrt(hs)) v, Vaswani et al. 2017 Eq. 1
            q, k, v, attn_mask=mask, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side again
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=False)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))  # (B, T, C) -> (B, T, 4C) -> (B, T, C)


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm_1 = RMSNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.norm_2 = RMSNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, kv_cache=None, layer=0, attn_mask=None):
        x = x + self.attn(self.norm_1(x), cos, sin, kv_cache, layer, attn_mask)
        return x + self.mlp(self.norm_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embedding, also the output head
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.norm_f = RMSNorm(config.n_embd)
        cos, sin = rotary_tables(config.n_embd // config.n_head, config.block_size)
        self.register_buffer("rope_cos", cos, persistent=False)  # (block_size, hs/2), not saved: recomputed
        self.register_buffer("rope_sin", sin, persistent=False)
        # GPT-2 initialisation: N(0, 0.02); the projections that write into the residual
        # stream are scaled by 1/sqrt(2 * n_layer) so its variance does not grow with depth.
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * config.n_layer) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, idx, return_hidden: bool = False, kv_cache: KVCache | None = None, key_valid=None):
        """idx (B, T) -> logits (B, T, V); with return_hidden also hidden (B, T, C), the
        residual stream after the final norm. With a kv_cache, idx are the tokens that
        follow the cache's `pos` filled positions, and the cache is extended by T.
        key_valid (B, past + T), optional: False at padding positions, which no query attends to."""
        B, T = idx.shape
        past = 0 if kv_cache is None else kv_cache.pos
        if past + T > self.config.block_size:
            raise ValueError(
                f"sequence of length {past + T} (T={T}"
                + (f" after {past} cached positions" if past else "")
                + f") is longer than the model's context, block_size={self.config.block_size}"
            )
        cos = self.rope_cos[past:past + T, None, None, :]  # (T, 1, 1, hs/2): broadcasts over (B, T, 2, nh, hs/2)
        sin = self.rope_sin[past:past + T, None, None, :]
        mask = None if key_valid is None else padding_mask(key_valid, past, T)  # (B, 1, T, past + T)
        x = self.drop(self.wte(idx))  # (B, T, C)
        for layer, block in enumerate(self.blocks):
            x = block(x, cos, sin, kv_cache, layer, mask)  # (B, T, C)
        if kv_cache is not None:
            kv_cache.pos += T
        hidden = self.norm_f(x)  # (B, T, C)
        logits = hidden @ self.wte.weight.t()  # (B, T, C) @ (C, V) -> (B, T, V), tied weights
        return (logits, hidden) if return_hidden else logits

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, stop_token: int | None = None, generator: torch.Generator | None = None,
                 prompt_lengths=None):
        """Continue a batch of prompts idx (B, T0); return (B, T0 + n), n <= max_new_tokens.

        Prompts of different lengths are left-padded to T0 and `prompt_lengths` (B,) gives each
        one's real length: no query attends to the padding, and since RoPE scores depend only on
        relative positions, a padded row samples as if it were alone (up to float rounding).

        temperature=0 picks the most likely token (greedy). top_k keeps the k most likely
        tokens (0 or None: all of them); top_p keeps the smallest set whose probability reaches p (nucleus sampling,
        Holtzman et al. 2019). A row that has emitted `stop_token` emits only stop_token
        after it; generation ends early when every row has stopped."""
        check_generate_args(self.config, idx, max_new_tokens, temperature, top_k, top_p, stop_token)
        idx = idx.long()  # any integer dtype; the embedding takes long
        B, T0 = idx.shape
        was_training = self.training
        self.eval()
        cache = KVCache(self.config, B, T0 + max_new_tokens, device=idx.device, dtype=self.wte.weight.dtype)
        out = torch.empty(B, T0 + max_new_tokens, dtype=torch.long, device=idx.device)  # (B, T0 + max_new)
        out[:, :T0] = idx
        done = torch.zeros(B, dtype=torch.bool, device=idx.device)  # (B,) rows that emitted stop_token
        valid = None  # (B, T0 + max_new): False on the left padding
        if prompt_lengths is not None:
            first = T0 - torch.as_tensor(prompt_lengths, device=idx.device)  # (B,) first real position
            if (first < 0).any() or (first >= T0).any():
                raise ValueError(f"prompt_lengths must be in 1..T0={T0}, got {prompt_lengths}")
            valid = torch.arange(T0 + max_new_tokens, device=idx.device)[None, :] >= first[:, None]
        logits = self(idx, kv_cache=cache, key_valid=None if valid is None else valid[:, :T0])[:, -1, :]  # (B, V)
        n = 0
        for n in range(1, max_new_tokens + 1):
            next_id = sample_next(logits, temperature, top_k, top_p, generator)  # (B,)
            if stop_token is not None:
                next_id = torch.where(done, torch.full_like(next_id, stop_token), next_id)
                done |= next_id == stop_token
            out[:, T0 + n - 1] = next_id
            if n == max_new_tokens or (stop_token is not None and bool(done.all())):
                break
            keys = None if valid is None else valid[:, :T0 + n]
            logits = self(next_id[:, None], kv_cache=cache, key_valid=keys)[:, -1, :]  # (B, 1) -> (B, V): one new position
        self.train(was_training)
        return out[:, :T0 + n]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # True is not a count


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_generate_args(config: GPTConfig, idx, max_new_tokens, temperature, top_k, top_p, stop_token):
    """A ValueError that names the bad argument, its value and what is allowed, before torch
    meets it (torch would say "index out of range in self" or fail inside multinomial)."""
    V, block_size = config.vocab_size, config.block_size
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
        got = f"a {idx.dim()}-D tensor of shape {tuple(idx.shape)}" if isinstance(idx, torch.Tensor) else repr(type(idx))
        hint = "; for one prompt pass idx[None]" if isinstance(idx, torch.Tensor) and idx.dim() == 1 else ""
        raise ValueError(f"idx must be a 2-D tensor of token ids (B, T0), got {got}{hint}")
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise ValueError(f"idx must hold integer token ids (torch.long), got dtype {idx.dtype}")
    B, T0 = idx.shape
    if B == 0 or T0 == 0:
        raise ValueError(f"generate needs at least one prompt of at least one token, got idx of shape {(B, T0)}")
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or high >= V:
        raise ValueError(f"token ids must be in 0..{V - 1} (vocab_size={V}), got {low if low < 0 else high}")
    if not _is_int(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    if T0 > block_size:
        raise ValueError(f"the prompt (T0={T0} tokens) is longer than the model's context, block_size={block_size}; "
                         "keep only its last tokens, idx[:, -(block_size - max_new_tokens):]")
    if T0 + max_new_tokens > block_size:
        raise ValueError(f"prompt length T0={T0} + max_new_tokens={max_new_tokens} = {T0 + max_new_tokens} exceeds "
                         f"block_size={block_size}; shorten the prompt or ask for fewer tokens")
    if not _is_real(temperature) or not 0 <= temperature < math.inf:
        raise ValueError(f"temperature must be a finite number >= 0 (0: greedy), got {temperature!r}")
    if top_k is not None and (not _is_int(top_k) or top_k < 0):
        raise ValueError(f"top_k must be None or an integer >= 0 (0 or None: all tokens), got {top_k!r}")
    if top_p is not None and (not _is_real(top_p) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
    if stop_token is not None and (not _is_int(stop_token) or not 0 <= stop_token < V):
        raise ValueError(f"stop_token must be None or a token id in 0..{V - 1}, got {stop_token!r}")


def padding_mask(key_valid, past: int, T: int):
    """Boolean attention mask (B, 1, T, past + T) for queries at positions past .. past + T - 1:
    a query sees earlier keys that are not padding, and always itself (so a padding query,
    whose output is never used, still has one key to attend to)."""
    q_pos = torch.arange(past, past + T, device=key_valid.device)[:, None]  # (T, 1)
    k_pos = torch.arange(past + T, device=key_valid.device)[None, :]  # (1, past + T)
    return ((k_pos <= q_pos) & key_valid[:, None, None, :]) | (k_pos == q_pos)  # (B, 1, T, past + T)


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """One token id per row from logits (B, V)."""
    if temperature == 0:
        return logits.argmax(dim=-1)  # (B,)
    logits = logits / temperature  # (B, V)
    if top_k:  # 0 or None: every token stays
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
        drop = cum - sorted_logits.softmax(dim=-1) >= top_p  # mass *before* a token already reaches p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.empty_like(logits).scatter_(-1, order, sorted_logits)  # back to vocabulary order
    probs = logits.softmax(dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


def scalar_head(n_embd: int) -> nn.Linear:
    """A linear read-out of one number from the residual stream, starting at exactly 0
    (the reward model's head and PPO's value head)."""
    head = nn.Linear(n_embd, 1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return head


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (the tied embedding counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def flops_per_token(config: GPTConfig) -> int:
    """Training FLOPs per token: 6N + 12 * n_layer * n_embd * block_size.

    6N: each parameter does one multiply-add (2 FLOPs) forward and two backward
    (Kaplan et al. 2020, Sec. 2.1). The attention scores q k^T and their product with v
    add 12 * L * H * Q * T (PaLM, Chowdhery et al. 2022, Appendix B; H * Q = n_embd),
    counted over the full context as PaLM and nanoGPT do. N includes the tied embedding,
    since the output head does a (C x V) matmul per token."""
    c = config
    n = c.vocab_size * c.n_embd + c.n_layer * (12 * c.n_embd**2 + 2 * c.n_embd) + c.n_embd  # = count_params
    return 6 * n + 12 * c.n_layer * c.n_embd * c.block_size


def fit_power_law(x, y) -> tuple[float, float]:
    """(a, b) of y = a·x^(-b), by least squares on log y = log a - b·log x (Kaplan et al. 2020, Eq. 1.1),
    e.g. the loss against count_params or against flops_per_token · tokens."""
    log_x, log_y = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    design = np.stack([np.ones_like(log_x), log_x], axis=1)          # (n, 2)
    (log_a, slope), *_ = np.linalg.lstsq(design, log_y, rcond=None)
    return float(np.exp(log_a)), float(-slope)
