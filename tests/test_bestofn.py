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
