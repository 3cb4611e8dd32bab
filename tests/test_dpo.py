"""DPO: the loss against hand computation, its masking, the config's refusals, and a short run that
must learn its pairs (a sign error in the loss or a wrong mask would fail it)."""
import copy
import math
import random

import pytest
import torch

from minilab.checkpoint import load_checkpoint
from minilab.dpo import (DPOConfig, batch_tensors, encode_pairs, implied_rewards, logprobs_of, sampled_kl,
                         train_dpo)
from minilab.chat import sample_responses
from minilab.losses import dpo_loss, sequence_logprobs, soft_bradley_terry_loss
from minilab.preferences import Pair, Response, wrong_value
from minilab.tokenizer import render_prompt
from minilab.world import make_world


def test_dpo_loss_matches_hand_computation():
    lp_c, lp_r = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -2.0])
    ref_c, ref_r = torch.tensor([-3.5, -4.0]), torch.tensor([-3.0, -2.5])
    beta = 0.5
    # pair 0: r_c = 0.5·0.5 = 0.25, r_r = 0.5·(-1) = -0.5, margin 0.75; pair 1: r_c = -0.5, r_r = 0.25, margin -0.75
    expected = (-math.log(1 / (1 + math.exp(-0.75))) - math.log(1 / (1 + math.exp(0.75)))) / 2
    loss, r_c, r_r = dpo_loss(lp_c, lp_r, ref_c, ref_r, beta)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert r_c.tolist() == pytest.approx([0.25, -0.5]) and r_r.tolist() == pytest.approx([-0.5, 0.25])
    # soft labels: the reward model's soft Bradley-Terry loss on the implied rewards
    p = torch.tensor([0.8, 0.6])
    soft, _, _ = dpo_loss(lp_c, lp_r, ref_c, ref_r, beta, p)
    assert soft.item() == pytest.approx(soft_bradley_terry_loss(r_c, r_r, p).item(), abs=1e-7)
    assert soft.item() != pytest.approx(loss.item(), abs=1e-3)


def test_dpo_loss_gradient_raises_chosen_and_lowers_rejected():
    lp_c = torch.tensor([-3.0], requires_grad=True)
    lp_r = torch.tensor([-3.0], requires_grad=True)
    loss, _, _ = dpo_loss(lp_c, lp_r, torch.tensor([-3.0]), torch.tensor([-3.0]), beta=0.1)
    loss.backward()
    assert loss.item() == pytest.approx(math.log(2))            # π = π_ref: every implied reward is 0
    assert lp_c.grad.item() == pytest.approx(-0.05) and lp_r.grad.item() == pytest.approx(0.05)   # -β·σ(0), +β·σ(0)


@pytest.mark.parametrize("beta", [0.0, -0.1])
def test_dpo_loss_refuses_beta_not_positive(beta):
    with pytest.raises(ValueError, match="beta must be > 0"):
        dpo_loss(torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.zeros(1), beta)


def test_sequence_logprobs_sums_only_masked_positions():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    tokens = torch.randint(0, 7, (2, 5))
    mask = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=torch.float)
    logits[0, 3:] = float("-inf")                                  # garbage where the mask is 0
    logits[0, 3:, 0] = 0.0
    got = sequence_logprobs(logits, tokens, mask)
    ref = [sum(torch.log_softmax(logits[b, t], -1)[tokens[b, t]].item() for t in range(5) if mask[b, t])
           for b in range(2)]
    assert torch.isfinite(got).all()
    assert got.tolist() == pytest.approx(ref, abs=1e-5)


@pytest.fixture(scope="module")
def nano():
    torch.set_num_threads(1)
    model, tok, meta = load_checkpoint("sft-nano")
    return model, tok, make_world(meta.get("seed", 0))


def test_reply_mask_covers_the_reply_and_its_end(nano):
    _, tok, _ = nano
    prompt, reply = "Where does Ada live?", "Ada lives in Rosby."
    seqs = encode_pairs(tok, [Pair(prompt, Response(reply), Response(reply[:5], ended=False), "t", 1.0)], 10_000)
    x, y, mask = batch_tensors(seqs, tok.special_id("<|pad|>"))
    n_reply = len(tok.encode(reply, allowed_special="none"))
    assert mask[0].sum().item() == n_reply + 1                    # the reply's tokens and its <|end|>
    assert y[0][mask[0].bool()].tolist() == tok.encode(reply, allowed_special="none") + [tok.special_id("<|end|>")]
    assert y[1][mask[1].bool()].tolist() == tok.encode(reply[:5], allowed_special="none")   # cut off: no <|end|>
    assert x[0, :len(render_prompt(tok, prompt))].tolist() == render_prompt(tok, prompt)


def test_a_reply_longer_than_the_context_is_refused(nano):
    model, tok, _ = nano
    long = Pair("Hi", Response("word " * 500), Response("ok"), "t", 1.0)
    with pytest.raises(ValueError, match="pair 0: the chosen reply is .* longer than the context"):
        encode_pairs(tok, [long], model.config.block_size)


@pytest.mark.parametrize("knobs, message", [({"beta": 0.0}, "beta"), ({"beta": -1.0}, "beta"),
                                            ({"nll_weight": -0.1}, "nll_weight"), ({"soft_labels": 1}, "soft_labels"),
                                            ({"max_iters": 0}, "max_iters"), ({"batch_size": 0}, "batch_size")])
def test_config_refuses_bad_knobs(knobs, message):
    with pytest.raises(ValueError, match=message):
        DPOConfig(**knobs)


def _toy_pairs(world, n=48):
    """Right answer (chosen) vs a wrong one (rejected) to training questions, hard labels."""
    rng = random.Random(0)
    return [Pair(qa.prompt, Response(world.render_answer(qa)), Response(world.render_answer(qa, wrong_value(qa, rng))),
                 "toy", 1.0) for qa in world.questions("train")[:n]]


def test_train_dpo_learns_its_pairs_and_starts_at_zero(nano):
    model, tok, world = nano
    pairs = _toy_pairs(world)
    policy = copy.deepcopy(model)
    r_c, r_r = implied_rewards(policy, model, tok, pairs, beta=0.1)
    assert r_c.abs().max().item() == 0 and r_r.abs().max().item() == 0      # π = π_ref: no reward yet
    cfg = DPOConfig(beta=0.1, lr=1e-3, min_lr=1e-4, warmup_iters=0, max_iters=30, batch_size=16, eval_interval=0)
    policy, reference, history = train_dpo(cfg, policy, tok, pairs, progress=False)
    r_c, r_r = implied_rewards(policy, reference, tok, pairs, beta=0.1)
    acc = (r_c > r_r).float().mean().item()
    assert acc >= 0.9, f"after 30 steps the implied reward ranks {acc:.0%} of its training pairs right"
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.margin[-1] > 0 and history.rejected_logratio[-1] < history.chosen_logratio[-1]
    for p, q in zip(reference.parameters(), model.parameters()):          # the reference stayed frozen
        assert torch.equal(p, q)


def test_sampled_kl_is_zero_for_the_same_model_and_positive_after_a_change(nano):
    model, tok, world = nano
    prompts = [q.prompt for q in world.questions("heldout")[:32]]
    samples = sample_responses(model, tok, prompts, seed=0)
    assert sampled_kl(model, model, tok, samples) == pytest.approx(0.0, abs=1e-6)
    cold = sample_responses(model, tok, prompts, temperature=0.5, seed=0)
    kl_cold = sampled_kl(model, model, tok, cold, temperature=0.5)     # KL(π at T=0.5 ‖ π)
    assert kl_cold > 0.1
    seqs = [(s.prompt_ids + s.response_ids, len(s.prompt_ids)) for s in cold]
    lp = logprobs_of(model, seqs, tok.special_id("<|pad|>"), temperature=0.5)
    assert torch.isfinite(lp).all() and (lp <= 0).all()
