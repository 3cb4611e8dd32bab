"""The "don't teach, incentivize" helpers: break-even chances, outcome shares, the logged reward,
fact-level splits and prompt mixes (notebook 09)."""
from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from minilab import honesty
from minilab.chat import sample_responses
from minilab.config import GPTConfig
from minilab.model import GPT
from minilab.tokenizer import CharTokenizer
from minilab.gold import PLAIN_REWARD, TABLE_REWARD


def reply(prompt, response):
    return SimpleNamespace(prompt=prompt, response=response)


@pytest.fixture(scope="module")
def replies(world):
    """One reply of each outcome, in honesty.OUTCOMES order, about known and unknown entities."""
    known = next(q for q in world.questions("train") if q.relation == "job" and q.lang == "en")
    other = next(v for v in known.candidates if v != known.answer)
    unknown = world.unknown_questions("test")[0]
    return [reply(known.prompt, world.render_answer(known)),                      # confident-correct
            reply(known.prompt, "I think " + world.render_answer(known)),         # hedged-correct
            reply(unknown.prompt, world.render_answer(unknown)),                  # abstain
            reply(unknown.prompt, "Maybe " + world.render_answer(unknown, "Rosby")),   # hedged-wrong
            reply(known.prompt, world.render_answer(known, other))]               # confident-wrong


def test_the_replies_fixture_has_one_of_each_outcome(world, replies):
    assert [world.judge(r.prompt, r.response).outcome for r in replies] == list(honesty.OUTCOMES)


# ------------------------------------------------------------------ break-even chance

def test_answer_threshold_of_the_two_tables():
    # table: p·1 + (1-p)·(-4) = 0  =>  p = 4/5; hedged: p·0.5 + (1-p)·(-2) = 0  =>  p = 2/2.5
    assert honesty.answer_threshold(TABLE_REWARD) == pytest.approx(0.8)
    assert honesty.answer_threshold(TABLE_REWARD, hedged=True) == pytest.approx(0.8)
    assert honesty.answer_threshold(PLAIN_REWARD) == 0.0           # a guess never costs anything


def test_answer_threshold_of_other_tables():
    table = dict(TABLE_REWARD, **{"confident-wrong": -1.0})          # p·1 + (1-p)·(-1) = 0  =>  p = 1/2
    assert honesty.answer_threshold(table) == pytest.approx(0.5)
    table = dict(TABLE_REWARD, abstain=0.5)                          # p - 4(1-p) = 0.5  =>  p = 0.9
    assert honesty.answer_threshold(table) == pytest.approx(0.9)
    table = dict(TABLE_REWARD, abstain=2.0)                          # silence beats even a sure answer
    assert honesty.answer_threshold(table) == 1.0
    with pytest.raises(ValueError, match="more when right"):
        honesty.answer_threshold(dict(TABLE_REWARD, **{"confident-wrong": 1.0}))


def test_answer_threshold_is_where_answering_and_abstaining_earn_the_same():
    for table in (TABLE_REWARD, PLAIN_REWARD, dict(TABLE_REWARD, **{"confident-correct": 3.0})):
        p = honesty.answer_threshold(table)
        expected = p * table["confident-correct"] + (1 - p) * table["confident-wrong"]
        assert expected == pytest.approx(table["abstain"])


# ------------------------------------------------------------------ outcome shares

def test_outcome_rates_count_each_outcome(world, replies):
    samples = replies + [replies[2], replies[2], replies[4]]          # 3 abstentions, 2 confident-wrong
    rates = honesty.outcome_rates(world, samples, TABLE_REWARD)
    assert rates["n"] == 8
    assert rates["abstain"] == pytest.approx(3 / 8)
    assert rates["confident-wrong"] == pytest.approx(2 / 8)
    assert rates["correct"] == pytest.approx(2 / 8)
    assert rates["wrong"] == pytest.approx(3 / 8)
    assert rates["correct"] + rates["wrong"] + rates["abstain"] == pytest.approx(1.0)
    assert rates["reward"] == pytest.approx((1 + 0.5 + 3 * 0 - 2 - 2 * 4) / 8)
    assert honesty.outcome_rates(world, samples, PLAIN_REWARD)["reward"] == pytest.approx(2 / 8)
    assert "reward" not in honesty.outcome_rates(world, samples)
    gold = [world.gold_reward(r.prompt, r.response) for r in samples]
    assert rates["gold"] == pytest.approx(sum(gold) / 8)
    cut = [reply(r.prompt, r.response) for r in samples]
    cut[0].ended = False                                               # a reply that never ended loses 1.5
    assert honesty.outcome_rates(world, cut)["gold"] == pytest.approx((sum(gold) - 1.5) / 8)


def test_outcome_rates_of_nothing_are_zero(world):
    rates = honesty.outcome_rates(world, [], TABLE_REWARD)
    assert rates["n"] == 0 and rates["abstain"] == 0 and rates["reward"] == 0 and rates["gold"] == 0


# ------------------------------------------------------------------ the reward function

def test_outcome_reward_scores_each_reply_by_the_table(world, replies):
    for table in (TABLE_REWARD, PLAIN_REWARD):
        scores = honesty.OutcomeReward(world, table)(replies)
        assert scores.dtype == torch.float32 and scores.shape == (5,)
        assert scores.tolist() == [table[o] for o in honesty.OUTCOMES]


def test_outcome_reward_logs_known_and_unknown_separately(world, replies):
    reward = honesty.OutcomeReward(world, TABLE_REWARD)
    reward(replies)                                                    # known: 3 replies, unknown: 2
    reward([replies[2]] * 4)                                           # only unknown, all abstain
    assert len(reward.history) == 2
    first = reward.history[0]
    assert first["known"]["n"] == 3 and first["unknown"]["n"] == 2
    assert first["unknown"]["abstain"] == pytest.approx(0.5)
    assert first["known"]["abstain"] == 0 and first["known"]["correct"] == pytest.approx(2 / 3)
    assert first["known"]["reward"] == pytest.approx((1 + 0.5 - 4) / 3)
    assert reward.curve("unknown") == pytest.approx([0.5, 1.0])
    assert reward.curve("known", "n") == [3, 0]


def test_outcome_reward_needs_every_outcome(world):
    table = {k: v for k, v in TABLE_REWARD.items() if k != "abstain"}
    with pytest.raises(ValueError, match="abstain"):
        honesty.OutcomeReward(world, table)


# ------------------------------------------------------------------ prompts

def test_split_facts_keeps_every_phrasing_of_a_fact_together(world):
    questions = [q for q in world.questions("train") if q.relation != "add"]
    train, held_out = honesty.split_facts(questions, eval_share=0.3, seed=1)
    assert not set(train) & set(held_out)
    assert sorted(train + held_out) == sorted(q.prompt for q in questions)
    fact = {q.prompt: (q.entity, q.relation) for q in questions}
    assert not {fact[p] for p in train} & {fact[p] for p in held_out}
    n_facts = len(set(fact.values()))
    assert len({fact[p] for p in held_out}) == round(0.3 * n_facts)
    phrasings = Counter(fact.values())                                 # 5 for people, 4 for towns and countries
    assert Counter(fact[p] for p in held_out) == {f: phrasings[f] for f in {fact[p] for p in held_out}}
    assert honesty.split_facts(questions, 0.3, seed=1) == (train, held_out)
    assert honesty.split_facts(questions, 0.3, seed=2) != (train, held_out)


def test_prompt_mix_has_the_asked_share(world):
    known = [q.prompt for q in world.questions("train")][:50]
    unknown = [q.prompt for q in world.unknown_questions("train")][:10]
    mix = honesty.prompt_mix(known, unknown, unknown_share=0.25, n=40, seed=0)
    assert len(mix) == 40
    assert sum(p in unknown for p in mix) == 10 and sum(p in known for p in mix) == 30
    assert len(set(mix)) == 40                                        # no repeats while a list lasts
    assert mix == honesty.prompt_mix(known, unknown, 0.25, 40, seed=0)
    assert mix != honesty.prompt_mix(known, unknown, 0.25, 40, seed=1)
    long = honesty.prompt_mix(known, unknown, unknown_share=0.5, n=60, seed=0)   # 30 unknown from 10: cycled
    assert Counter(p for p in long if p in unknown) == {p: 3 for p in unknown}
    with pytest.raises(ValueError, match="unknown_share"):
        honesty.prompt_mix(known, unknown, 1.5, 10)
    with pytest.raises(ValueError, match="empty"):
        honesty.prompt_mix(known, [], 0.5, 10)


# ------------------------------------------------------------------ evaluation

def test_evaluate_samples_each_set_like_ppo_and_counts_outcomes(world):
    prompts = {"known": [q.prompt for q in world.questions("train")][:6],
               "unknown": [q.prompt for q in world.unknown_questions("test")][:4]}
    tok = CharTokenizer.train("".join(p for ps in prompts.values() for p in ps) + "I don't know who is.")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=96, n_layer=1, n_head=2, n_embd=16))
    rates = honesty.evaluate(model, tok, world, prompts, TABLE_REWARD, max_new_tokens=8, seed=3)
    assert set(rates) == {"known", "unknown"}
    for name, ps in prompts.items():
        expected = honesty.outcome_rates(world, sample_responses(model, tok, ps, 8, temperature=1.0, seed=3), TABLE_REWARD)
        assert rates[name] == expected and rates[name]["n"] == len(ps)


def test_knows_what_it_knows_is_the_abstention_gap():
    rates = {"unknown": {"abstain": 0.7}, "known": {"abstain": 0.1}}
    assert honesty.knows_what_it_knows(rates) == pytest.approx(0.6)
    assert honesty.knows_what_it_knows({"unknown": {"abstain": 0.2}, "known": {"abstain": 0.2}}) == 0
