"""Simulated annotators: biased in the documented ways, informative overall, deterministic."""
import math
import random

import pytest

from minilab.preferences import (PANEL, Annotator, Pair, Response, agreement, make_pairs, pairs_from_samples,
                                 response_variants)

BY_NAME = {a.name: a for a in PANEL}


@pytest.fixture(scope="module")
def questions(world):
    return world.questions("train") + world.unknown_questions("train")


@pytest.fixture(scope="module")
def pairs(world, questions):
    return make_pairs(world, questions, n_pairs=1500, seed=0)


def test_bradley_terry_probability_by_hand(world):
    qa = world.questions("train")[0]
    a, b = Response(world.render_answer(qa)), Response("I don't know.")
    ann = Annotator("x", noise=0.7)
    diff = ann.utility(world, qa.prompt, a) - ann.utility(world, qa.prompt, b)
    assert ann.p_prefers(world, qa.prompt, a, b) == pytest.approx(1 / (1 + math.exp(-diff / 0.7)))
    assert ann.p_prefers(world, qa.prompt, a, b) + ann.p_prefers(world, qa.prompt, b, a) == pytest.approx(1)
    # an annotator with unit weights and no biases has utility = gold reward
    for r in response_variants(world, qa, random.Random(0)):
        assert ann.utility(world, qa.prompt, r) == pytest.approx(world.gold_reward(qa.prompt, r.text, r.ended))


def test_variants_cover_the_kinds_and_the_reference_is_best(world):
    rng = random.Random(0)
    for qa in world.questions("train")[:50] + world.unknown_questions("test")[:20]:
        variants = response_variants(world, qa, rng)
        golds = [world.gold_reward(qa.prompt, r.text, r.ended) for r in variants]
        assert variants[0].text == world.reference_answer(qa.prompt)
        assert golds[0] == max(golds) and golds.count(golds[0]) == 1
        assert any(not r.ended for r in variants)
        outcomes = {world.judge(qa.prompt, r.text).outcome for r in variants}
        assert {"abstain", "confident-wrong", "hedged-wrong" if not qa.known else "hedged-correct"} <= outcomes


def _p_padded_over_concise(world, annotator, qas):
    rng, ps = random.Random(1), []
    for qa in qas:
        concise, padded = response_variants(world, qa, rng)[:2]
        ps.append(annotator.p_prefers(world, qa.prompt, padded, concise))
    return sum(ps) / len(ps)


def test_verbose_annotators_prefer_padding_more_than_the_careful_one(world):
    qas = world.questions("train")[:200]
    careful = _p_padded_over_concise(world, BY_NAME["careful"], qas)
    assert careful < 0.35
    for name in ("thorough", "skimmer"):
        assert _p_padded_over_concise(world, BY_NAME[name], qas) > max(0.7, careful + 0.4), name


def test_charmed_annotator_likes_flattery(world):
    rng = random.Random(2)
    p = {name: [] for name in ("careful", "charmed")}
    for qa in world.questions("train")[:100]:
        concise, _, flattering = response_variants(world, qa, rng)[:3]
        for name in p:
            p[name].append(BY_NAME[name].p_prefers(world, qa.prompt, flattering, concise))
    assert sum(p["charmed"]) / 100 > 0.7 > 0.45 > sum(p["careful"]) / 100


def test_careful_annotator_agrees_with_gold_on_clear_pairs(world, questions):
    pairs = make_pairs(world, questions, annotators=[BY_NAME["careful"]], n_pairs=800, seed=3)
    clear = [p for p in pairs if abs(p.gold_margin) >= 1.0]
    assert len(clear) > 400
    assert sum(p.gold_margin > 0 for p in clear) / len(clear) >= 0.9


def test_make_pairs_is_deterministic_and_uses_the_whole_panel(world, questions, pairs):
    assert make_pairs(world, questions, n_pairs=1500, seed=0) == pairs
    assert make_pairs(world, questions, n_pairs=50, seed=1) != pairs[:50]
    assert {p.annotator for p in pairs} == set(BY_NAME)
    for p in pairs[:100]:
        assert p.chosen != p.rejected
        gold = lambda r: world.gold_reward(p.prompt, r.text, r.ended)
        assert p.gold_margin == pytest.approx(gold(p.chosen) - gold(p.rejected))
    with pytest.raises(ValueError):
        make_pairs(world, [], n_pairs=3)


def test_panel_agreement_is_biased_but_informative(world, pairs):
    table = agreement(world, pairs)
    assert 0.65 <= table["labels_vs_gold"] <= 0.90, table["labels_vs_gold"]   # measured: ~0.79
    vs_gold = table["vs_gold"]
    assert max(vs_gold, key=vs_gold.get) == "careful" and vs_gold["careful"] >= 0.9
    assert min(vs_gold, key=vs_gold.get) in ("hasty", "skimmer")
    between = table["between"]
    for a in between:
        assert between[a][a] == 1.0
        for b in between:
            assert between[a][b] == pytest.approx(between[b][a])
    assert table["n_pairs"] == len(pairs) and 0 <= table["n_ties"] < len(pairs) // 5
    assert agreement(world, pairs) == table                                     # seeded


def test_pairs_from_samples_labels_the_models_own_answers(world):
    qas = world.questions("test")[:30]
    samples = {}
    for i, qa in enumerate(qas):
        right, wrong = world.render_answer(qa), world.render_answer(qa, next(c for c in qa.candidates if c != qa.answer))
        samples[qa.prompt] = [right, Response(wrong), right + " Happy to help!"] if i % 3 else [right, right]
    pairs = pairs_from_samples(world, [q.prompt for q in qas], samples, seed=0, pairs_per_prompt=2)
    assert len(pairs) == 2 * sum(1 for i in range(30) if i % 3)                # one distinct answer: no pair
    assert all(isinstance(p, Pair) and p.prompt in samples for p in pairs)
    assert pairs == pairs_from_samples(world, [q.prompt for q in qas], samples, seed=0, pairs_per_prompt=2)



def test_the_whole_panel_votes_and_the_majority_is_chosen(world):
    qa = next(q for q in world.questions("train") if q.relation == "lives_in" and q.lang == "en")
    right = Response(world.render_answer(qa))
    wrong = Response(world.render_answer(qa, next(c for c in qa.candidates if c != qa.answer)))
    padded = Response(world.render_answer(qa) + " Happy to help! I hope this helps.")
    from minilab.preferences import panel_label, ranked_pairs
    rng = random.Random(0)
    shares = [panel_label(world, qa.prompt, wrong, right, PANEL, rng) for _ in range(200)]
    assert all(p.chosen == right and p.annotator == "panel" for p in shares if p.gold_margin > 0)
    assert sum(p.chosen == right for p in shares) / 200 > 0.95          # five votes outvote one noisy annotator
    assert all(0.5 < p.p_chosen <= 1.0 and p.p_chosen * len(PANEL) == round(p.p_chosen * len(PANEL)) for p in shares)
    pairs = ranked_pairs(world, {qa.prompt: [right, wrong, padded, right]}, PANEL, seed=0)
    assert len(pairs) == 3                                                # 3 distinct replies: all 3 pairs
    assert pairs == ranked_pairs(world, {qa.prompt: [right, wrong, padded, right]}, PANEL, seed=0)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_evaluate_reward_model_counts_agreement_by_kind_of_pair(world, monkeypatch, sign):
    """A 'reward model' that scores with gold (or against it) agrees on every clear pair (or none),
    and the split into right-vs-wrong and style-only pairs covers the clear pairs."""
    import torch
    from minilab import reward
    qa = next(q for q in world.questions("heldout") if q.relation == "pet")
    right = Response(world.render_answer(qa))
    wrong = Response(world.render_answer(qa, next(c for c in qa.candidates if c != qa.answer)))
    padded = Response(world.render_answer(qa) + " Happy to help! I hope this helps.")
    pairs = [Pair(qa.prompt, right, wrong, "x", 3.5), Pair(qa.prompt, right, padded, "x", 0.7),
             Pair(qa.prompt, wrong, padded, "x", -2.7), Pair(qa.prompt, right, right, "x", 0.0)]
    monkeypatch.setattr(reward, "score", lambda rm, tok, prompts, texts, ended: sign * torch.tensor(
        [world.gold_reward(p, t, e) for p, t, e in zip(prompts, texts, ended)]))
    figures = reward.evaluate_reward_model(None, None, world, pairs)
    want = 1.0 if sign > 0 else 0.0
    assert figures["clear_pairs"] == 3
    assert figures["acc_gold"] == want and figures["acc_gold_facts"] == want and figures["acc_gold_style"] == want
    assert figures["acc_annotators"] == pytest.approx(0.5 if sign > 0 else 0.25)   # the labels' own agreement
