"""Talking to a chat model: batched sampling of replies and their evaluation by the gold reward.

Every stage after pretraining asks the same question, "what does the model answer to these
prompts, and how good is that?", so the answer lives here once:

- `sample_responses` renders each prompt in the chat format, samples a reply with the model's
  KV-cached `generate`, and cuts it at the first `<|end|>`. Prompts of different lengths share
  one batch: they are left-padded and `generate` masks the padding (`prompt_lengths`), so 64
  prompts cost one pass of 32 decoding steps, not one pass per distinct prompt length.
- `evaluate_replies` scores replies with the world's gold reward and reports the share that
  are well-formed (ended with `<|end|>`) and their mean length.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from minilab.tokenizer import render_prompt


@dataclass
class Sample:
    prompt: str               # the user's question
    response: str             # the decoded reply, without <|end|>
    ended: bool               # did the model close its turn with <|end|> within the budget?
    prompt_ids: list[int]     # the rendered prompt, "<|user|>…<|end|><|assistant|>"
    response_ids: list[int]   # the sampled tokens, up to and including <|end|> when ended


@torch.no_grad()
def sample_responses(model, tok, prompts: list[str], max_new_tokens: int = 32, temperature: float = 1.0,
                     top_k: int | None = None, top_p: float | None = None, seed: int = 0,
                     batch_size: int = 128) -> list[Sample]:
    """Sample one reply per prompt (temperature=0: greedy). Same seed, same replies."""
    end_id, pad_id = tok.special_id("<|end|>"), tok.special_id("<|pad|>")
    generator = torch.Generator().manual_seed(seed)
    rendered = [render_prompt(tok, p) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(rendered[i]))   # similar lengths share a batch
    samples: list[Sample | None] = [None] * len(prompts)
    was_training = model.training
    model.eval()
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        lengths = [len(rendered[i]) for i in rows]
        T0 = max(lengths)
        idx = torch.tensor([[pad_id] * (T0 - len(rendered[i])) + rendered[i] for i in rows])   # (b, T0), left-padded
        out = model.generate(idx, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                             stop_token=end_id, generator=generator, prompt_lengths=lengths)
        for row, i in enumerate(rows):
            new = out[row, T0:].tolist()
            ended = end_id in new
            new = new[:new.index(end_id) + 1] if ended else new
            text = tok.decode([t for t in new if t != end_id])
            samples[i] = Sample(prompts[i], text, ended, rendered[i], new)
    model.train(was_training)
    return samples


def evaluate_replies(world, samples: list[Sample]) -> dict:
    """Mean gold reward, share of well-formed replies and mean reply length (in tokens)."""
    n = max(len(samples), 1)
    gold = [world.gold_reward(s.prompt, s.response, ended=s.ended) for s in samples]
    return {
        "gold": sum(gold) / n,
        "well_formed": sum(s.ended for s in samples) / n,
        "length": sum(len(s.response_ids) for s in samples) / n,
    }


def evaluate_model(model, tok, world, prompts: list[str], max_new_tokens: int = 32,
                   temperature: float = 1.0, seed: int = 0, per_prompt: int = 1) -> tuple[dict, list[Sample]]:
    """Sample `per_prompt` replies to each of `prompts` and evaluate them all: (figures, samples).
    One reply per prompt makes the mean gold reward of 398 prompts wobble by about ±0.06 from one
    seed to the next; four replies halve that. `samples` lists the first reply to every prompt
    (in the order of `prompts`), then the second, and so on."""
    if type(per_prompt) is not int or per_prompt < 1:
        raise ValueError(f"per_prompt must be a whole number >= 1 (replies sampled per prompt), got {per_prompt!r}")
    samples = sample_responses(model, tok, list(prompts) * per_prompt, max_new_tokens, temperature=temperature, seed=seed)
    return evaluate_replies(world, samples), samples
