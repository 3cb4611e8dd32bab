"""Configuration shared by every stage: model sizes and the chat special tokens.

Each training stage keeps its own flat dataclass of knobs next to its loop
(`PretrainConfig` in pretrain.py, `PPOConfig` in ppo.py, ...). What lives here is
what *several* stages must agree on:

- `GPTConfig`: the shape of a model, and `SIZES`, the named presets
  (`nano`, `micro`, `mini`), in the spirit of minGPT's `gpt-nano`/`gpt-mini`.
- `SPECIAL_TOKENS`: the tokens of the chat format, identical for every tokenizer.
- `VOCAB_SIZE`: the BPE vocabulary of the bundled models; `MIN_VOCAB_SIZE` the smallest a
  byte-level tokenizer can have (256 bytes and the special tokens, no merge).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

# The chat format (see tokenizer.render_conversation):
#   <|user|>What is the capital of Norland?<|end|><|assistant|>The capital of Norland is Velm.<|end|>
# Documents of the pretraining corpus are separated by <|endoftext|>.
SPECIAL_TOKENS = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>", "<|pad|>"]
VOCAB_SIZE = 512                                   # BPE vocabulary of the bundled tokenizers and models
MIN_VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)         # every byte and every special token, no merge yet


@dataclass
class GPTConfig:
    vocab_size: int = VOCAB_SIZE  # number of token ids the embedding table holds
    block_size: int = 128      # longest context the model can attend over
    n_layer: int = 2           # transformer blocks
    n_head: int = 2            # attention heads per block
    n_embd: int = 64           # width of the residual stream
    dropout: float = 0.0       # dropout on attention and MLP outputs (0 = off)

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"GPTConfig: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if (self.n_embd // self.n_head) % 2 != 0:
            raise ValueError(f"GPTConfig: head size n_embd/n_head = {self.n_embd // self.n_head} must be even (rotary positions rotate pairs)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"GPTConfig: unknown fields {sorted(unknown)}; allowed: {sorted(known)}")
        return cls(**d)


# Named size presets. Parameter counts (with a VOCAB_SIZE vocabulary) are printed by
# `minilab.model.count_params` and shown in notebook 02.
SIZES: dict[str, dict] = {
    "nano":  dict(n_layer=2, n_head=2, n_embd=64),    # ~0.1M parameters: the whole pipeline in a minute
    "micro": dict(n_layer=4, n_head=4, n_embd=128),   # ~0.9M: nanoGPT's CPU recipe shape
    "mini":  dict(n_layer=6, n_head=6, n_embd=192),   # ~2.8M: the largest a laptop trains in minutes
}


def size_config(size: str, vocab_size: int, block_size: int = 128, **overrides) -> GPTConfig:
    """The GPTConfig of a named size preset, e.g. size_config("micro", vocab_size=VOCAB_SIZE)."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; allowed: {', '.join(SIZES)}")
    return GPTConfig(vocab_size=vocab_size, block_size=block_size, **{**SIZES[size], **overrides})
