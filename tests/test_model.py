"""Tests of minilab.model: shapes, causality, the KV cache, generation, parameter counts."""
import pytest
import torch

from minilab.config import GPTConfig, SIZES, size_config
from minilab.model import GPT, KVCache, count_params, flops_per_token


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=50, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()


def test_shapes(model):
    idx = torch.randint(0, 50, (3, 7))  # (B, T)
    assert model(idx).shape == (3, 7, 50)
    logits, hidden = model(idx, return_hidden=True)
    assert logits.shape == (3, 7, 50) and hidden.shape == (3, 7, 32)


def test_future_tokens_never_change_past_logits(model):
    idx = torch.randint(0, 50, (2, 20))
    t = 11
    perturbed = idx.clone()
    perturbed[:, t] = (idx[:, t] + 1) % 50
    a, b = model(idx), model(perturbed)
    torch.testing.assert_close(a[:, :t], b[:, :t], rtol=0, atol=0)
    assert not torch.allclose(a[:, t:], b[:, t:])  # position t and later do see the change


def test_kv_cache_gives_the_same_logits_as_a_full_pass(model):
    idx = torch.randint(0, 50, (2, 15))
    full = model(idx)
    cache = KVCache(model.config, batch_size=2, max_len=15)
    parts = [model(idx[:, :6], kv_cache=cache), model(idx[:, 6:10], kv_cache=cache)]  # prompt, then a chunk
    parts += [model(idx[:, i:i + 1], kv_cache=cache) for i in range(10, 15)]  # then one token at a time
    assert cache.pos == 15
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-5, atol=1e-5)


def test_cached_and_uncached_greedy_generation_agree(model):
    idx = torch.randint(0, 50, (3, 5))
    out = model.generate(idx, 20, temperature=0)
    slow = idx
    for _ in range(20):  # no cache: the whole sequence again for every new token
        slow = torch.cat([slow, model(slow)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert out.shape == (3, 25)
    assert torch.equal(out, slow)
    assert torch.equal(out[:, :5], idx)


def test_left_padded_prompts_generate_as_if_each_were_alone(model):
    torch.manual_seed(1)
    prompts = [torch.randint(0, 50, (n,)) for n in (3, 7, 5)]
    T0, pad = 7, 49
    idx = torch.stack([torch.cat([torch.full((T0 - len(p),), pad), p]) for p in prompts])   # (3, 7)
    out = model.generate(idx, 12, temperature=0, prompt_lengths=[len(p) for p in prompts])
    for row, p in enumerate(prompts):
        alone = model.generate(p[None], 12, temperature=0)[0, len(p):]
        assert torch.equal(out[row, T0:], alone), f"row {row} (prompt length {len(p)}) differs when padded"
    # the padding really is ignored: other pad tokens give the same continuation
    idx2 = idx.clone()
    idx2[idx2 == pad] = 3
    same = model.generate(idx2, 12, temperature=0, prompt_lengths=[3, 7, 5])
    assert torch.equal(same[:, T0:], out[:, T0:])
    # the next-token logits of a padded row match the row alone; unmasked, the padding is read as text
    valid = torch.arange(T0)[None, :] >= torch.tensor([T0 - len(p) for p in prompts])[:, None]
    masked = model(idx, key_valid=valid)[0, -1]
    torch.testing.assert_close(masked, model(prompts[0][None])[0, -1], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(model(idx)[0, -1], masked, atol=1e-3)
    with pytest.raises(ValueError, match="prompt_lengths"):
        model.generate(idx, 2, prompt_lengths=[0, 7, 5])


def test_top_k_1_is_greedy_and_a_generator_makes_sampling_repeatable(model):
    idx = torch.randint(0, 50, (2, 4))
    assert torch.equal(model.generate(idx, 8, top_k=1), model.generate(idx, 8, temperature=0))
    a = model.generate(idx, 8, top_p=0.9, generator=torch.Generator().manual_seed(3))
    b = model.generate(idx, 8, top_p=0.9, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert ((a >= 0) & (a < 50)).all()


def test_generate_stops_at_stop_token(model):
    idx = torch.randint(0, 50, (2, 4))
    free = model.generate(idx, 10, temperature=0)
    stop = int(free[0, 4])  # row 0's first new token
    out = model.generate(idx, 10, temperature=0, stop_token=stop)
    assert (out[0, 4:] == stop).all()  # row 0 stopped and keeps emitting stop_token
    row1 = free[1, 4:]
    if stop in row1.tolist():  # row 1 ends at its own first stop_token
        first = row1.tolist().index(stop)
        assert out.shape[1] == 4 + first + 1
    else:
        assert torch.equal(out[1], free[1])
    one = model.generate(idx[:1], 10, temperature=0, stop_token=stop)
    assert one.shape == (1, 5)  # every row finished: generation ends early


def test_too_long_inputs_raise_clear_errors(model):
    with pytest.raises(ValueError, match="block_size=32"):
        model(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match="exceeds block_size=32"):
        model.generate(torch.zeros(1, 30, dtype=torch.long), 3)
    assert model.generate(torch.zeros(1, 30, dtype=torch.long), 2, temperature=0).shape == (1, 32)


def test_generate_restores_training_mode(model):
    model.train()
    model.generate(torch.zeros(1, 2, dtype=torch.long), 2)
    assert model.training
    model.eval()


def test_preset_parameter_counts():
    counts = {size: count_params(GPT(size_config(size, vocab_size=512))) for size in SIZES}
    assert counts["nano"] < counts["micro"] < counts["mini"] < 5_000_000
    for size in SIZES:  # flops_per_token is 6N + the attention term, N = count_params
        c = size_config(size, vocab_size=512)
        assert flops_per_token(c) == 6 * counts[size] + 12 * c.n_layer * c.n_embd * c.block_size


def test_output_head_is_tied_to_the_embedding(model):
    names = [n for n, _ in model.named_parameters()]
    assert not any("head" in n for n in names)
    assert count_params(model) == 50 * 32 + 2 * (12 * 32 * 32 + 2 * 32) + 32


# ---------------------------------------------------------------- generate: one clear error per bad argument

PROMPT = torch.tensor([[1, 2, 3]])  # (B=1, T0=3); the model has vocab_size=50, block_size=32

BAD_GENERATE = [  # (id, arguments, the words the message must contain: the bad value and what is allowed)
    ("max_new_tokens<0", dict(max_new_tokens=-1), ["max_new_tokens", "-1", "integer >= 0"]),
    ("max_new_tokens float", dict(max_new_tokens=2.5), ["max_new_tokens", "2.5", "integer >= 0"]),
    ("temperature nan", dict(temperature=float("nan")), ["temperature", "nan", "finite number >= 0"]),
    ("temperature<0", dict(temperature=-0.5), ["temperature", "-0.5", "finite number >= 0"]),
    ("temperature inf", dict(temperature=float("inf")), ["temperature", "inf", "finite number >= 0"]),
    ("top_k<0", dict(top_k=-3), ["top_k", "-3", "integer >= 0 (0 or None: all tokens)"]),
    ("top_k float", dict(top_k=2.5), ["top_k", "2.5", "integer >= 0"]),
    ("top_p=0", dict(top_p=0.0), ["top_p", "0.0", "(0, 1]"]),
    ("top_p>1", dict(top_p=1.5), ["top_p", "1.5", "(0, 1]"]),
    ("top_p nan", dict(top_p=float("nan")), ["top_p", "nan", "(0, 1]"]),
    ("id >= vocab", dict(idx=torch.tensor([[1, 50, 3]])), ["token ids", "0..49", "got 50"]),
    ("negative id", dict(idx=torch.tensor([[1, -2, 3]])), ["token ids", "0..49", "got -2"]),
    ("1-D prompt", dict(idx=torch.tensor([1, 2, 3])), ["2-D tensor", "shape (3,)", "idx[None]"]),
    ("float prompt", dict(idx=torch.tensor([[1.0, 2.0]])), ["integer token ids", "torch.float32"]),
    ("list prompt", dict(idx=[[1, 2, 3]]), ["2-D tensor", "list"]),
    ("empty prompt", dict(idx=torch.zeros(1, 0, dtype=torch.long)), ["at least one token", "(1, 0)"]),
    ("prompt > context", dict(idx=torch.zeros(1, 40, dtype=torch.long)), ["T0=40", "block_size=32", "last tokens"]),
    ("prompt + new > context", dict(idx=torch.zeros(1, 30, dtype=torch.long), max_new_tokens=3),
     ["T0=30", "max_new_tokens=3", "block_size=32"]),
    ("stop_token >= vocab", dict(stop_token=50), ["stop_token", "0..49", "50"]),
]


@pytest.mark.parametrize("args, words", [case[1:] for case in BAD_GENERATE], ids=[case[0] for case in BAD_GENERATE])
def test_generate_names_each_bad_argument(model, args, words):
    args = {"idx": PROMPT, "max_new_tokens": 2, **args}
    with pytest.raises(ValueError) as err:
        model.generate(**args)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_top_k_0_means_all_tokens_and_max_new_tokens_0_the_prompt(model):
    a = model.generate(PROMPT, 8, top_k=0, generator=torch.Generator().manual_seed(5))
    b = model.generate(PROMPT, 8, top_k=None, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert torch.equal(model.generate(PROMPT, 0), PROMPT)
    assert torch.equal(model.generate(PROMPT.int(), 4, temperature=0), model.generate(PROMPT, 4, temperature=0))
