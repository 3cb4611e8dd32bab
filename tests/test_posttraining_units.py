"""Fast unit tests of SFT, the reward model and PPO on tiny random models (no bundled checkpoint needed)."""
import math

import pytest
import torch

from minilab import losses
from minilab.chat import sample_responses
from minilab.config import GPTConfig
from minilab.model import GPT
from minilab.optim import TrainingDiverged
from minilab.ppo import PPOConfig, pack, reply_logits, train_ppo
from minilab.checkpoint import save_checkpoint
from minilab.preferences import Pair, Response
from minilab.tokenizer import render_prompt
from minilab.reward import (RewardConfig, RewardModel, encode_reply, load_reward_model, reward_fn, reward_model_tensors, score,
                            train_reward_model)
from minilab.sft import SFTConfig, build_dataset, make_batch, sft
from minilab.tokenizer import CharTokenizer

TEXT = "What is 2 + 3? 2 + 3 = 5. Ada lives in Velm. Bo? I don't know. abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer.train(TEXT)


def tiny_gpt(tok, seed=0, block_size=96):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=block_size, n_layer=1, n_head=2, n_embd=16))


CONVS = [[{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "2 + 3 = 5."}],
         [{"role": "user", "content": "Ada?"}, {"role": "assistant", "content": "Ada lives in Velm."},
          {"role": "user", "content": "Bo?"}, {"role": "assistant", "content": "I don't know."}]]


# ---------------------------------------------------------------- SFT

def test_sft_batch_targets_and_mask(tok):
    data = build_dataset(tok, CONVS, block_size=96)
    x, y, m = make_batch(data, [0, 1], tok.special_id("<|pad|>"))
    ids, mask = data[0]
    n = len(ids) - 1
    assert x[0, :n].tolist() == ids[:-1] and y[0, :n].tolist() == ids[1:]
    assert m[0, :n].tolist() == [float(v) for v in mask[1:]]
    assert m[0, n:].sum() == 0                       # padding never counts
    # the masked targets decode to exactly the assistant's replies with their <|end|>
    assert tok.decode(y[0][m[0] > 0].tolist()) == "2 + 3 = 5.<|end|>"
    _, _, m_all = make_batch(data, [0, 1], tok.special_id("<|pad|>"), loss_on="all")
    assert m_all[0, :n].sum() == n


def test_sft_too_long_conversation_is_an_error(tok):
    with pytest.raises(ValueError, match="conversation 0 is .* tokens, longer than the context"):
        build_dataset(tok, [[{"role": "user", "content": "a" * 200}, {"role": "assistant", "content": "b"}]], 96)


def test_sft_config_errors():
    with pytest.raises(ValueError, match="allowed: assistant, all"):
        SFTConfig(loss_on="user")
    with pytest.raises(ValueError, match="max_iters"):
        SFTConfig(max_iters=0)


def test_sft_learns_the_replies(tok):
    model = tiny_gpt(tok)
    data = build_dataset(tok, CONVS, 96)
    x, y, m = make_batch(data, [0, 1], tok.special_id("<|pad|>"))
    before = losses.lm_loss(model(x), y, m).item()
    sft(SFTConfig(max_iters=60, batch_size=2, lr=1e-2, warmup_iters=5, eval_interval=0), model, tok, CONVS,
        progress=False)
    after = losses.lm_loss(model(x), y, m).item()
    assert after < 0.3 * before, (before, after)


# ---------------------------------------------------------------- sampling

def test_evaluate_model_averages_over_several_replies_per_prompt(tok):
    from minilab.chat import evaluate_model, evaluate_replies
    from minilab.checkpoint import load_checkpoint
    from minilab.world import make_world
    world = make_world(0)
    model, tok, _ = load_checkpoint("sft-nano")
    prompts = [q.prompt for q in world.questions("heldout")[:3]]
    one, samples1 = evaluate_model(model, tok, world, prompts, max_new_tokens=8, seed=3)
    four, samples4 = evaluate_model(model, tok, world, prompts, max_new_tokens=8, seed=3, per_prompt=4)
    assert [s.prompt for s in samples1] == prompts and [s.prompt for s in samples4] == prompts * 4
    assert four == evaluate_replies(world, samples4)            # the figures cover all twelve replies
    assert len({s.response for s in samples4}) > len(prompts)    # not the same reply four times
    with pytest.raises(ValueError, match="per_prompt must be a whole number >= 1"):
        evaluate_model(model, tok, world, prompts, per_prompt=0)


def test_sampling_is_deterministic_and_cut_at_end(tok):
    model = tiny_gpt(tok)
    prompts = ["Ada?", "What is 2 + 3?", "Bo?"]
    a = sample_responses(model, tok, prompts, max_new_tokens=12, seed=3)
    b = sample_responses(model, tok, prompts, max_new_tokens=12, seed=3)
    assert [s.response_ids for s in a] == [s.response_ids for s in b]
    end = tok.special_id("<|end|>")
    for s in a:
        assert s.prompt == prompts[a.index(s)]
        assert (end in s.response_ids) == s.ended
        if s.ended:
            assert s.response_ids.index(end) == len(s.response_ids) - 1
        else:
            assert len(s.response_ids) == 12


# ---------------------------------------------------------------- reward model

def test_reward_model_reads_the_last_real_token(tok):
    rm = RewardModel(tiny_gpt(tok))
    torch.nn.init.normal_(rm.head.weight)
    seq = encode_reply(tok, "Ada?", "Ada lives in Velm.", True)
    idx = torch.tensor([seq + [0, 0, 0], seq + [5, 6, 7]])        # same sequence, different padding
    r = rm(idx, torch.tensor([len(seq), len(seq)]))
    assert r[0].item() == pytest.approx(r[1].item(), abs=1e-6)


def test_reward_model_checkpoint_round_trip(tok, tmp_path):
    rm = RewardModel(tiny_gpt(tok))
    torch.nn.init.normal_(rm.head.weight)
    rm.reward_mean.fill_(0.3)
    rm.reward_std.fill_(2.0)
    save_checkpoint(tmp_path / "rm", rm.backbone, tok, {"kind": "reward_model"}, extra_tensors=reward_model_tensors(rm))
    rm2, _, _ = load_reward_model(tmp_path / "rm")
    args = (["Ada?", "Bo?"], ["Ada lives in Velm.", "I don't"], [True, False])
    torch.testing.assert_close(score(rm, tok, *args), score(rm2, tok, *args))
    save_checkpoint(tmp_path / "gpt", rm.backbone, tok, {})
    with pytest.raises(ValueError, match="not a reward-model checkpoint"):
        load_reward_model(tmp_path / "gpt")


def test_reward_model_likelihood_term_is_the_reference_surprise_of_the_reply(tok):
    ref = tiny_gpt(tok, seed=1)
    rm = RewardModel(tiny_gpt(tok), ref, tok.special_id("<|assistant|>"))     # head at 0, weight 1
    prompt, reply = "Ada?", "Ada lives in Velm."
    seq = encode_reply(tok, prompt, reply, True)
    n_prompt = len(render_prompt(tok, prompt))
    with torch.no_grad():
        logp = torch.log_softmax(ref(torch.tensor([seq]))[0], -1)
    entropy = -(logp.exp() * logp).sum(-1)
    # each reply token (and <|end|>): its log-prob plus the entropy of the distribution it was drawn from
    by_hand = sum(logp[t - 1, seq[t]].item() + entropy[t - 1].item() for t in range(n_prompt, len(seq)))
    padded = torch.tensor([seq + [0, 0], seq + [9, 9]])
    r = rm.raw(padded, torch.tensor([len(seq), len(seq)]))
    assert r[0].item() == pytest.approx(by_hand, abs=1e-4) and r[1].item() == pytest.approx(by_hand, abs=1e-4)
    # the reference is frozen and stays in eval mode; only the head and the weight learn
    rm.train()
    assert not ref.training and all(not p.requires_grad for p in ref.parameters())
    assert {n for n, p in rm.named_parameters() if p.requires_grad and not n.startswith("backbone.")} == \
        {"head.weight", "head.bias", "loglik_weight"}
    with pytest.raises(ValueError, match="both reference and reply_start_id"):
        RewardModel(tiny_gpt(tok), ref)


def test_reward_model_training_gives_each_reply_its_own_likelihood_term_computed_once(tok):
    """train_reward_model computes the frozen reference's term of every reply once, before training.
    The first step's loss must equal the one computed from scratch, each reply scored alone: a term
    given to another reply, or chosen and rejected swapped, changes it."""
    pairs = [Pair("Ada?", Response("Ada lives in Velm."), Response("Velm velm velm"), "panel", 1.0, 0.8),
             Pair("Bo?", Response("I don't know."), Response("Bo lives", ended=False), "panel", 1.0, 0.6),
             Pair("What is 2 + 3?", Response("2 + 3 = 5."), Response("5"), "panel", 1.0, 1.0)]
    cfg = RewardConfig(max_iters=1, batch_size=len(pairs), seed=3, loglik_weight=1.0)
    ref = tiny_gpt(tok, seed=1)
    _, history = train_reward_model(cfg, tiny_gpt(tok), tok, pairs, progress=False, reference=ref)
    backbone = tiny_gpt(tok)
    torch.manual_seed(cfg.seed)                       # the head train_reward_model started from
    rm = RewardModel(backbone, ref, tok.special_id("<|assistant|>"), loglik_weight=cfg.loglik_weight)

    def parts(prompt, reply):                         # one reply alone: no padding, no batch
        seq = encode_reply(tok, prompt, reply.text, reply.ended)
        idx, lengths = torch.tensor([seq]), torch.tensor([len(seq)])
        return rm.head_reward(idx, lengths)[0], rm.reply_loglik(idx, lengths)[0]

    with torch.no_grad():
        head_c, term_c = map(torch.stack, zip(*[parts(p.prompt, p.chosen) for p in pairs]))
        head_r, term_r = map(torch.stack, zip(*[parts(p.prompt, p.rejected) for p in pairs]))
        votes, w = torch.tensor([p.p_chosen for p in pairs]), rm.loglik_weight
        want = losses.soft_bradley_terry_loss(head_c + w * term_c, head_r + w * term_r, votes)
        swapped = losses.soft_bradley_terry_loss(head_c + w * term_r, head_r + w * term_c, votes)
    assert abs(swapped.item() - want.item()) > 0.05           # the terms differ enough for a mix-up to show
    assert history.loss[0] == pytest.approx(want.item(), abs=1e-5)


def test_reward_model_with_likelihood_checkpoint_round_trip(tok, tmp_path):
    rm = RewardModel(tiny_gpt(tok), tiny_gpt(tok, seed=1), tok.special_id("<|assistant|>"))
    torch.nn.init.normal_(rm.head.weight)
    with torch.no_grad():
        rm.loglik_weight.fill_(0.7)
    save_checkpoint(tmp_path / "rm", rm.backbone, tok, {"kind": "reward_model"}, extra_tensors=reward_model_tensors(rm))
    rm2, _, _ = load_reward_model(tmp_path / "rm")
    args = (["Ada?", "Bo?"], ["Ada lives in Velm.", "I don't"], [True, False])
    torch.testing.assert_close(score(rm, tok, *args), score(rm2, tok, *args))
    assert rm2.loglik_weight.item() == pytest.approx(0.7)
    # a reference with a missing tensor is named, not loaded half-way
    from safetensors.torch import load_file, save_file
    tensors = load_file(str(tmp_path / "rm" / "model.safetensors"))
    tensors.pop(next(k for k in tensors if k.startswith("extra.reference.")))
    save_file(tensors, str(tmp_path / "rm" / "model.safetensors"))
    with pytest.raises(ValueError, match="reference weights do not match its config"):
        load_reward_model(tmp_path / "rm")


# ---------------------------------------------------------------- PPO

def test_ppo_config_validation():
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        PPOConfig(beta=-0.1)
    for eps in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(ValueError, match=r"clip_eps must be in the open interval \(0, 1\)"):
            PPOConfig(clip_eps=eps)
    with pytest.raises(ValueError, match="allowed: k1, k2, k3"):
        PPOConfig(kl_estimator="exact")
    with pytest.raises(ValueError, match="divisible"):
        PPOConfig(batch_size=10, minibatches=4)
    PPOConfig(beta=0.0, clip_eps=0.5)   # beta = 0 is allowed: no KL penalty


def test_pack_aligns_logits_with_reply_tokens(tok):
    model = tiny_gpt(tok)
    samples = sample_responses(model, tok, ["Ada?", "What is 2 + 3?"], max_new_tokens=6, seed=0)
    ro = pack(samples, tok.special_id("<|pad|>"))
    logits = model(ro.idx)
    lp = losses.token_logprobs(reply_logits(logits, ro.positions), ro.tokens)
    for b, s in enumerate(samples):
        seq = torch.tensor([s.prompt_ids + s.response_ids])
        full = torch.log_softmax(model(seq)[0], -1)
        for r, token in enumerate(s.response_ids):
            assert lp[b, r].item() == pytest.approx(full[len(s.prompt_ids) - 1 + r, token].item(), abs=1e-5)
        assert ro.mask[b].sum() == len(s.response_ids)


def test_ppo_rewards_a_token_and_kl_stays_zero_at_start(tok):
    """A reward for replies containing 'a' raises that share; at iteration 0 policy == reference, so KL = 0."""
    model = tiny_gpt(tok, block_size=64)
    a_id = tok.encode("a")[0]

    def reward(samples):
        return torch.tensor([float(s.response_ids.count(a_id)) for s in samples])

    cfg = PPOConfig(iters=15, batch_size=16, minibatches=2, max_new_tokens=8, lr=3e-3, beta=0.01, missing_end_penalty=0.0)
    _, history = train_ppo(cfg, model, tok, ["Ada?", "Bo?", "What is 2 + 3?"], reward, progress=False)
    assert history["kl"][0] == pytest.approx(0.0, abs=1e-4)
    assert history["score"][-1] > history["score"][0] + 1.0, history["score"]
    assert history["kl"][-1] > 0
    assert all(math.isnan(g) for g in history["gold"])   # no world given: no gold reward


def test_ppo_per_token_rewards_credit_each_token(tok):
    """A per-token reward (B, R) is summed into the score; put all of it on the last token and PPO runs
    exactly as with the scalar; spread over the tokens, the same totals train differently (credit moves)."""
    a_id = tok.encode("a")[0]

    def scalar(samples):
        return torch.tensor([float(s.response_ids.count(a_id)) for s in samples])

    def at_last(samples):
        out = torch.zeros(len(samples), 8)
        for b, s in enumerate(samples):
            out[b, max(0, len(s.response_ids) - 1)] = s.response_ids.count(a_id)
        return out

    def per_token(samples):
        out = torch.zeros(len(samples), 8)
        for b, s in enumerate(samples):
            out[b, :len(s.response_ids)] = torch.tensor([float(t == a_id) for t in s.response_ids])
        return out

    cfg = PPOConfig(iters=3, batch_size=8, minibatches=2, max_new_tokens=8, lr=3e-3, beta=0.01, missing_end_penalty=0.5)
    runs = {name: train_ppo(cfg, tiny_gpt(tok, block_size=64), tok, ["Ada?", "Bo?"], fn, progress=False)[1]
            for name, fn in (("scalar", scalar), ("at_last", at_last), ("per_token", per_token))}
    assert runs["at_last"]["score"] == pytest.approx(runs["scalar"]["score"], abs=1e-5)
    assert runs["at_last"]["kl"] == pytest.approx(runs["scalar"]["kl"], abs=1e-5)
    assert runs["per_token"]["score"][0] == pytest.approx(runs["scalar"]["score"][0], abs=1e-5)   # same samples, same totals
    assert runs["per_token"]["kl"][1] != pytest.approx(runs["scalar"]["kl"][1], abs=1e-6)         # other credit, other update


def test_reward_fn_per_token_rows_sum_to_the_score(tok):
    rm = RewardModel(tiny_gpt(tok), tiny_gpt(tok, seed=1), tok.special_id("<|assistant|>"))
    torch.nn.init.normal_(rm.head.weight)
    rm.reward_mean.fill_(0.5)
    rm.reward_std.fill_(2.0)
    samples = sample_responses(tiny_gpt(tok, seed=2), tok, ["Ada?", "Bo?", "What is 2 + 3?"], max_new_tokens=10, seed=0)
    total = reward_fn(rm, tok)(samples)
    dense = reward_fn(rm, tok, per_token=True)(samples)
    assert dense.shape == (3, max(len(s.response_ids) for s in samples))
    torch.testing.assert_close(dense.sum(1), total, atol=1e-4, rtol=1e-4)
    for b, s in enumerate(samples):                      # nothing past a reply's own tokens
        assert (dense[b, len(s.response_ids):] == 0).all()


def test_ppo_stops_cleanly_on_non_finite_loss(tok):
    model = tiny_gpt(tok, block_size=64)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def reward(samples):
        return torch.full((len(samples),), float("nan"))

    cfg = PPOConfig(iters=3, batch_size=8, minibatches=2, max_new_tokens=4)
    with pytest.raises(TrainingDiverged, match="PPO diverged at iteration 0") as err:
        train_ppo(cfg, model, tok, ["Ada?"], reward, progress=False)
    assert err.value.model.gpt is model and err.value.history["iter"] == []
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])         # nothing lost, nothing corrupted


def test_sft_and_reward_model_stop_on_non_finite_loss_with_their_last_weights(tok):
    """The same policy as pretraining and PPO (optim.py): the bad step is not taken, TrainingDiverged says where."""
    model = tiny_gpt(tok, block_size=64)
    model.wte.weight.data[:] = float("nan")               # every forward now returns NaN
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(TrainingDiverged, match="SFT diverged at step 0") as err:
        sft(SFTConfig(max_iters=3, batch_size=1), model, tok, CONVS, progress=False)
    assert err.value.model is model
    pair = Pair("Ada?", Response("Ada lives in Velm."), Response("Velm."), "careful", 1.0)
    with pytest.raises(TrainingDiverged, match="reward-model training diverged at step 0") as err:
        train_reward_model(RewardConfig(max_iters=3, batch_size=1), model, tok, [pair], progress=False)
    assert err.value.model.backbone is model
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], equal_nan=True)


def test_value_loss_trains_the_value_head_only(tok):
    """The value head reads the policy's hidden states detached: a value loss leaves the policy's
    weights without gradient (a shared trunk let the value loss rewrite the policy)."""
    from minilab.ppo import PolicyWithValue
    policy = PolicyWithValue(tiny_gpt(tok))
    idx = torch.tensor([tok.encode("Ada lives in Velm.")])
    _, values = policy(idx)
    ((values - 3.0) ** 2).mean().backward()
    assert policy.value_head.weight.grad is not None and policy.value_head.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in policy.gpt.parameters())


def test_ppo_update_ratio_starts_at_one_even_with_dropout(tok):
    """PPO updates run without dropout: on the first minibatch π_new = π_old exactly, so nothing is
    clipped (with dropout 0.5 on, a third of the tokens were clipped before any step)."""
    from minilab.ppo import PolicyWithValue, update
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16, dropout=0.5))
    samples = sample_responses(model, tok, ["Ada?", "Bo?"] * 4, max_new_tokens=6, seed=0)
    ro = pack(samples, tok.special_id("<|pad|>"))
    policy = PolicyWithValue(model).eval()             # rollouts are sampled and scored without dropout
    with torch.no_grad():
        logits, values = policy(ro.idx)
        ro.logprobs = losses.token_logprobs(reply_logits(logits, ro.positions), ro.tokens)
        ro.values = values.gather(1, ro.positions) * ro.mask
    ro.advantages, ro.returns = torch.randn(ro.mask.shape) * ro.mask, torch.zeros(ro.mask.shape)
    cfg = PPOConfig(batch_size=8, minibatches=1, epochs=1)
    stats = update(policy, torch.optim.Adam(policy.parameters(), lr=1e-3), ro, cfg, __import__("random").Random(0))
    assert stats["clipfrac"] == 0.0 and abs(stats["approx_kl"]) < 1e-6, stats


def test_reward_fn_scores_the_sampled_token_ids(tok):
    """PPO's reward function reads the sampled ids, not a re-encoding of the decoded text."""
    from minilab.chat import Sample
    from minilab.reward import reward_fn, score_ids
    rm = RewardModel(tiny_gpt(tok))
    torch.nn.init.normal_(rm.head.weight, std=1.0)
    prompt_ids = tok.encode("<|user|>Ada?<|end|><|assistant|>")
    odd = [tok.encode("a")[0], tok.encode("b")[0]]                       # ids as sampled
    sample = Sample("Ada?", "zz", True, prompt_ids, odd + [tok.special_id("<|end|>")])   # text disagrees with ids
    got = reward_fn(rm, tok)([sample])
    want = score_ids(rm, [prompt_ids + odd + [tok.special_id("<|end|>")]], tok.special_id("<|pad|>"))
    from_text = score(rm, tok, ["Ada?"], ["zz"], [True])
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got, from_text)


def test_value_model_starts_as_the_reward_model_read_at_every_position(tok):
    """InstructGPT's value function starts from the reward model: at the last token it gives the
    reward itself; PPO trains a copy, so the reward model is untouched."""
    from minilab.ppo import PolicyWithValue
    from minilab.reward import ValueModel
    rm = RewardModel(tiny_gpt(tok, seed=1))
    torch.nn.init.normal_(rm.head.weight, std=0.5)
    rm.reward_mean.fill_(0.3)
    rm.reward_std.fill_(2.0)
    idx = torch.tensor([tok.encode("Ada lives in Velm.")])
    critic = ValueModel(rm)
    values = critic(idx)                                                  # (1, L)
    assert values.shape == idx.shape
    torch.testing.assert_close(values[0, -1], rm(idx, torch.tensor([idx.shape[1]]))[0])
    before = {k: v.clone() for k, v in rm.state_dict().items()}
    policy = PolicyWithValue(tiny_gpt(tok), critic)
    logits, v = policy(idx)
    (v ** 2).mean().backward()
    assert all(p.grad is None for p in policy.gpt.parameters())          # the value loss never reaches the policy
    assert critic.head.weight.grad.abs().sum() > 0
    torch.optim.SGD(critic.parameters(), lr=1.0).step()
    for k, v_ in rm.state_dict().items():
        torch.testing.assert_close(v_, before[k])
