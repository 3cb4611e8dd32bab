"""Best-of-n and on-policy pair accuracy, on hand-built tables whose answers are known."""
import math

import pytest
import torch

from minilab.bestofn import SampleTable, best_of_n, bon_kl, pair_accuracy
from minilab.chat import Sample
from minilab.world import make_world


@pytest.fixture(scope="module")
def world():
    return make_world(0)


def test_bon_kl_closed_form():
    assert bon_kl(1) == 0.0
    assert bon_kl(2) == pytest.approx(math.log(2) - 0.5)
    assert bon_kl(16) == pytest.approx(math.log(16) - 15 / 16)
    with pytest.raises(ValueError, match="n >= 1"):
        bon_kl(0)


def _table(world, scores):
    qa = next(q for q in world.questions("train") if q.relation == "lives_in" and q.lang == "en")
    wrong = next(c for c in qa.candidates if c != qa.answer)
    replies = [world.render_answer(qa), world.render_answer(qa, wrong), "Great question! " + world.render_answer(qa)
               + " Happy to help! I hope this helps. Have a wonderful day!"]
    samples = [Sample(qa.prompt, r, True, [], []) for r in replies]
    gold = torch.tensor([[world.gold_reward(qa.prompt, r, True) for r in replies]])
    return SampleTable([qa.prompt], samples, torch.tensor([scores], dtype=torch.float), gold)


def test_best_of_n_picks_the_reward_models_favourite(world):
    t = _table(world, [0.0, 5.0, 1.0])           # the reward model loves the wrong answer
    assert best_of_n(t, [3])[3] == pytest.approx(t.gold[0, 1].item())
    t = _table(world, [5.0, 0.0, 1.0])
    assert best_of_n(t, [3])[3] == pytest.approx(t.gold[0, 0].item())
    ones = best_of_n(t, [1], repeats=200)[1]     # n = 1: a random reply, on average the row's mean
    assert ones == pytest.approx(t.gold.mean().item(), abs=0.5)
    with pytest.raises(ValueError, match="holds 3 replies"):
        best_of_n(t, [4])


def test_pair_accuracy_splits_facts_from_style(world):
    t = _table(world, [2.0, 0.0, 1.0])           # right > padded right > wrong: all as gold ranks them
    acc = pair_accuracy(t, world)
    assert acc["all"] == 1.0 and acc["n_facts"] == 2 and acc["n_style"] == 1
    t = _table(world, [0.0, 2.0, 1.0])           # wrong on top: both fact pairs lost, style pair lost too
    acc = pair_accuracy(t, world)
    assert acc["facts"] == 0.0 and acc["style"] == 0.0


def test_rescore_equals_sampling_again_with_the_other_reward_model(world):
    from minilab.bestofn import rescore, sample_table
    from minilab.checkpoint import load_checkpoint
    from minilab.reward import load_reward_model
    sft, tok, _ = load_checkpoint("sft-nano")
    rm_nano, rm_micro = (load_reward_model(f"rm-{s}")[0] for s in ("nano", "micro"))
    prompts = [q.prompt for q in world.questions("heldout")[:3]]
    by_nano = sample_table(sft, rm_nano, tok, world, prompts, n=4, seed=5)
    by_micro = sample_table(sft, rm_micro, tok, world, prompts, n=4, seed=5)
    again = rescore(by_nano, rm_micro, tok)
    assert [s.response for s in again.samples] == [s.response for s in by_micro.samples]
    assert torch.allclose(again.scores, by_micro.scores, atol=1e-5) and torch.equal(again.gold, by_micro.gold)
    assert not torch.allclose(again.scores, by_nano.scores, atol=1e-2)     # it did use the other judge
