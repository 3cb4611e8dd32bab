"""GRPO: the group advantages and the loss against hand computation, the verified reward, the
config's refusals, and a short run that must raise the reward on its own training prompts."""
import copy

import pytest
import torch

from minilab import grpo
from minilab.chat import Sample, sample_responses
from minilab.checkpoint import load_checkpoint
from minilab.grpo import (SUM_PROMPT, GRPOConfig, accuracy, column_working, final_answer, final_answer_reward,
                          group_advantages, grpo_loss, pass_at_k, right_per_prompt, train_grpo, verified_reward,
                          working_figures, writes_working)
from minilab.losses import ppo_policy_loss
from minilab.world import make_world


def test_group_advantages_standardise_within_each_group():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])   # two groups of 4
    adv = group_advantages(rewards, 4)
    first = rewards[:4]
    expected = (first - first.mean()) / (first.std() + 1e-4)           # unbiased std, as DeepSeekMath
    assert adv[:4].tolist() == pytest.approx(expected.tolist(), abs=1e-5)
    assert adv[:4].tolist() == pytest.approx([1.5, -0.5, -0.5, -0.5], abs=1e-3)
    assert adv[4:].abs().max().item() == 0.0                             # all equal: the group teaches nothing


def test_grpo_loss_is_the_clipped_surrogate_plus_beta_times_k3():
    torch.manual_seed(0)
    logprobs, old, ref = torch.randn(3, 5) - 2, torch.randn(3, 5) - 2, torch.randn(3, 5) - 2
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.float)
    adv = torch.tensor([1.0, -0.5, 2.0])
    loss, stats = grpo_loss(logprobs, old, ref, adv, mask, clip_eps=0.2, beta=0.1)
    pg, _ = ppo_policy_loss(logprobs, old, adv[:, None].expand(3, 5), mask, 0.2)
    d = ref - logprobs                                                  # k3 = e^d - d - 1, d = log π_ref/π
    k3 = ((torch.exp(d) - d - 1) * mask).sum() / mask.sum()
    assert loss.item() == pytest.approx(pg.item() + 0.1 * k3.item(), abs=1e-5)
    assert stats["kl_term"] == pytest.approx(k3.item(), abs=1e-5) and stats["kl_term"] > 0
    loss0, _ = grpo_loss(logprobs, old, ref, adv, mask, clip_eps=0.2, beta=0.0)
    assert loss0.item() == pytest.approx(pg.item(), abs=1e-6)


@pytest.mark.parametrize("knobs, message", [({"beta": -0.1}, "beta"), ({"group_size": 1}, "group_size"),
                                            ({"clip_eps": 1.0}, "clip_eps"), ({"clip_eps": 0.0}, "clip_eps"),
                                            ({"lr": 0.0}, "lr"), ({"minibatches": 3}, "divisible"),
                                            ({"mixed_groups_only": 1}, "mixed_groups_only")])
def test_config_refuses_bad_knobs(knobs, message):
    with pytest.raises(ValueError, match=message):
        GRPOConfig(**knobs)


@pytest.fixture(scope="module")
def nano():
    torch.set_num_threads(1)
    model, tok, meta = load_checkpoint("sft-nano")
    return model, tok, make_world(meta.get("seed", 0))


def test_verified_reward_needs_the_right_value_and_an_end(nano):
    _, _, world = nano
    qa = world.questions("train")[0]
    right = world.render_answer(qa)
    wrong = next(world.render_answer(q) for q in world.questions("train") if q.answer != qa.answer and q.relation == qa.relation)
    samples = [Sample(qa.prompt, right, True, [], []), Sample(qa.prompt, right, False, [], []),
               Sample(qa.prompt, wrong, True, [], []), Sample(qa.prompt, "I don't know.", True, [], [])]
    assert verified_reward(world, samples).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert accuracy(world, samples) == 0.25


def test_train_grpo_raises_the_reward_on_its_prompts(nano):
    model, tok, world = nano
    prompts = [q.prompt for q in world.questions("train")[:16]]
    cfg = GRPOConfig(iters=12, prompts_per_iter=16, group_size=8, lr=5e-4, seed=0)
    policy, history = train_grpo(cfg, copy.deepcopy(model), tok, prompts, world, eval_prompts=prompts, eval_every=0,
                                 progress=False)
    start, end = history.eval_accuracy[0], history.eval_accuracy[-1]
    assert end >= start + 0.1, f"accuracy on its 16 training prompts {start:.2f} -> {end:.2f}"
    assert history.kl[0] == pytest.approx(0.0, abs=1e-6) and history.kl[-1] > 0   # π = π_ref before the first update
    assert len(history.iter) == 12 and history.eval_iter == [0, 12]


@pytest.mark.parametrize("mixed_only", [True, False])
def test_the_update_sees_only_groups_with_mixed_rewards_unless_told_otherwise(nano, monkeypatch, mixed_only):
    # a program that pays only the first prompt's even replies: one mixed group, three uniform ones
    model, tok, world = nano
    prompts = [q.prompt for q in world.questions("train")[:4]]
    program = lambda samples: torch.tensor([float(i < 4 and i % 2 == 0) for i in range(len(samples))])
    seen, original = [], grpo.grpo_loss

    def recording_loss(logprobs, old, ref, advantages, mask, clip_eps, beta):
        seen.append(advantages.clone())
        return original(logprobs, old, ref, advantages, mask, clip_eps, beta)

    monkeypatch.setattr("minilab.grpo.grpo_loss", recording_loss)
    cfg = GRPOConfig(iters=1, prompts_per_iter=4, group_size=4, minibatches=2, mixed_groups_only=mixed_only, seed=0)
    _, history = train_grpo(cfg, copy.deepcopy(model), tok, prompts, world, eval_prompts=None, progress=False,
                            reward=program)
    rows = torch.cat(seen)
    assert history.informative == [0.25]                 # 1 group of 4 has mixed rewards
    if mixed_only:                                      # its 4 replies, in two minibatches of 2
        assert [len(a) for a in seen] == [2, 2] and sorted(rows.tolist()) == pytest.approx([-0.866, -0.866, 0.866, 0.866], abs=1e-3)
    else:                                               # all 16 replies, 12 of them with advantage 0
        assert [len(a) for a in seen] == [8, 8] and int((rows == 0).sum()) == 12


def test_pass_at_k_is_the_chance_that_one_of_k_replies_drawn_from_n_is_right():
    # a prompt with 1 right of 4: one draw finds it 1/4 of the time; two draws without replacement
    # miss it only if both come from the 3 wrong ones: 1 - (3/4)(2/3) = 1/2; four draws always find it
    assert pass_at_k([1], 4, 1) == pytest.approx(0.25)
    assert pass_at_k([1], 4, 2) == pytest.approx(0.5)
    assert pass_at_k([1], 4, 4) == pytest.approx(1.0)
    # averaged over prompts; a prompt never answered right stays 0 at every k
    assert pass_at_k([0, 4], 4, 1) == pytest.approx(0.5) and pass_at_k([0, 4], 4, 3) == pytest.approx(0.5)
    assert pass_at_k([2, 1, 0], 4, 1) == pytest.approx((2 / 4 + 1 / 4 + 0) / 3)
    with pytest.raises(ValueError, match="k must be between 1 and n = 4"):
        pass_at_k([1], 4, 5)
    with pytest.raises(ValueError, match="between 0 and n = 4 right replies"):
        pass_at_k([5], 4, 1)


def test_right_per_prompt_counts_each_prompts_accepted_replies(nano):
    model, tok, world = nano
    prompts = [q.prompt for q in world.questions("train")[:6]]
    counts = right_per_prompt(model, tok, world, prompts, n=5, seed=3)
    samples = sample_responses(model, tok, [p for p in prompts for _ in range(5)], seed=3)
    by_hand = [sum(s.ended and world.judge(s.prompt, s.response).correct for s in samples[5 * i:5 * i + 5])
               for i in range(6)]
    assert counts == by_hand and len(counts) == 6
    assert 0 < sum(counts) < 30          # the SFT model gets some right and some wrong: a real check


def test_column_working_writes_the_units_then_the_tens_with_the_carry_then_the_answer():
    assert column_working(47, 38) == "47 + 38: 7 + 8 = 15, 4 + 3 + 1 = 8, so 85."
    assert column_working(23, 45) == "23 + 45: 3 + 5 = 8, 2 + 4 = 6, so 68."         # no carry, no "+ 1"
    assert column_working(99, 99) == "99 + 99: 9 + 9 = 18, 9 + 9 + 1 = 19, so 198."
    assert writes_working(column_working(47, 38)) and not writes_working("47 + 38 = 85.")
    for a, b in ((5, 38), (47, 100)):
        with pytest.raises(ValueError, match="two-digit"):
            column_working(a, b)


def test_final_answer_reward_pays_the_right_last_number_whatever_the_working():
    prompt = SUM_PROMPT.format(a=47, b=38)
    program = final_answer_reward({prompt: 85})
    replies = [(column_working(47, 38), True, 1.0),                      # working, right
               ("47 + 38 = 85.", True, 1.0),                             # at once, right
               ("47 + 38: 7 + 8 = 15, 4 + 3 + 1 = 8, so 86.", True, 0.0),   # right columns, wrong answer
               ("47 + 38 = 85, so 47 + 38 = 95.", True, 0.0),            # the right sum said, then another
               ("47 + 38 = 85.", False, 0.0),                            # cut off
               ("I don't know.", True, 0.0)]
    samples = [Sample(prompt, text, ended, [], []) for text, ended, _ in replies]
    assert program(samples).tolist() == [paid for _, _, paid in replies]
    assert final_answer("no number here") is None


def test_train_grpo_trains_on_the_program_it_is_given(nano):
    # a program that pays short replies (at most 8 tokens) must shorten them, and is what the history records
    model, tok, world = nano
    prompts = [q.prompt for q in world.questions("train")[:16]]
    seen = []

    def short(samples):
        seen.append(len(samples))
        return torch.tensor([float(s.ended and len(s.response_ids) <= 8) for s in samples])

    cfg = GRPOConfig(iters=12, prompts_per_iter=16, group_size=8, lr=5e-4, seed=0)
    _, history = train_grpo(cfg, copy.deepcopy(model), tok, prompts, world, eval_prompts=prompts, eval_every=0,
                            progress=False, reward=short)
    assert seen == [16] + [16 * 8] * 12 + [16]            # evaluation, 12 rollouts, evaluation
    assert history.length[-1] < history.length[0] - 2, f"reply length {history.length[0]:.1f} -> {history.length[-1]:.1f}"
    assert history.eval_accuracy[-1] > history.eval_accuracy[0] + 0.2   # accuracy is the given program's


def test_working_figures_split_the_replies_by_form_and_count_the_right_ones(nano):
    model, tok, world = nano
    pairs = world.addition_pairs("test")[:40]
    prompts = [SUM_PROMPT.format(a=a, b=b) for a, b in pairs]
    program = final_answer_reward({p: a + b for p, (a, b) in zip(prompts, pairs)})
    figures, replies = working_figures(model, tok, prompts, program, seed=3)
    works = [writes_working(r.response) for r in replies]
    right = program(replies).tolist()
    assert [r.prompt for r in replies] == prompts
    assert figures["writes its working first"] == pytest.approx(sum(works) / 40)
    assert figures["right, all replies"] == pytest.approx(sum(right) / 40)
    share = figures["writes its working first"]        # the two forms' rates average back to the whole
    parts = [(share, figures["right, with working"]), (1 - share, figures["right, answering at once"])]
    assert sum(w * r for w, r in parts if w > 0) == pytest.approx(figures["right, all replies"])
