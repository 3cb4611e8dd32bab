"""The gold reward and the judge: they order answers as a person would."""
import pytest

from minilab.gold import PLAIN_REWARD, TABLE_REWARD, count_words, has_repetition


def _known_qa(world, relation="lives_in", lang="en"):
    return next(q for q in world.questions("train") if q.relation == relation and q.lang == lang)


def test_judge_outcomes(world):
    qa = _known_qa(world)
    wrong_town = next(c for c in qa.candidates if c != qa.answer)
    right, wrong = world.render_answer(qa), world.render_answer(qa, wrong_town)
    cases = {right: "confident-correct", "I think " + right: "hedged-correct", "I don't know.": "abstain",
             "Maybe " + wrong: "hedged-wrong", wrong: "confident-wrong",
             f"{right} Or maybe {wrong_town}.": "hedged-wrong"}
    for response, outcome in cases.items():
        j = world.judge(qa.prompt, response)
        assert j.outcome == outcome, (response, j)
        assert j.correct + j.wrong + j.abstained == 1
    assert TABLE_REWARD["confident-wrong"] == -4 and PLAIN_REWARD["hedged-correct"] == 1
    assert TABLE_REWARD[world.judge(qa.prompt, "I think " + right).outcome] == 0.5
    # Chinese: 猫 must not be found inside 猫头鹰, and English values count too
    pet = _known_qa(world, "pet", "zh")
    for value in ("猫头鹰", "猫"):
        said = world.render_answer(pet, value)
        assert world.judge(pet.prompt, said).stated == ({"猫头鹰": "owl", "猫": "cat"}[value],)
    # sums: restating the operands is not a wrong answer
    add = _known_qa(world, "add")
    assert world.judge(add.prompt, world.render_answer(add)).correct
    assert world.judge(add.prompt, f"{add.entity} = {int(add.answer) + 1}").wrong
    unknown = world.unknown_questions("test")[0]
    assert world.judge(unknown.prompt, world.render_answer(unknown)).outcome == "abstain"
    assert world.judge(unknown.prompt, world.render_answer(unknown, "Rosby")).wrong


def test_gold_reward_orders_handwritten_responses_like_a_person(world):
    for lang in ("en", "zh"):
        qa = _known_qa(world, "job", lang)
        gold = lambda r, ended=True: world.gold_reward(qa.prompt, r, ended)
        right = world.render_answer(qa)
        wrong = world.render_answer(qa, next(c for c in qa.candidates if c != qa.answer))
        sep = " " if lang == "en" else ""
        rude = ("Obviously. " if lang == "en" else "这都不知道？") + right
        padded = sep.join(["Great question!" if lang == "en" else "好问题！", right] +
                          (["I hope this helps.", "Let me know if you have any other questions.", "Have a wonderful day!"]
                           if lang == "en" else ["希望对你有帮助！", "还有其他问题随时问我。", "祝你愉快！"]))
        assert gold(right) > gold(wrong)                  # correct > wrong
        assert gold(right) > gold(rude)                   # polite > rude
        assert gold(right) > gold(padded) > gold(wrong)   # concise > padded
        assert gold(right) > gold(right, ended=False)     # well-formed > truncated
        assert gold(right) > gold(sep.join([right] * 3))  # no repetition
        assert gold(right) > gold("I think " + right if lang == "en" else "我觉得" + right)
        assert gold(right) > max(gold(r) for r in (wrong, rude, padded, right + sep + right))
    unknown = world.unknown_questions("train")[0]
    idk, invented = world.render_answer(unknown), world.render_answer(unknown, "Rosby")
    assert world.gold_reward(unknown.prompt, idk) > world.gold_reward(unknown.prompt, invented)


def test_gold_components_sum_to_gold_reward(world):
    qa = _known_qa(world)
    for response in ("", "Obviously. " + world.render_answer(qa) * 3, "I don't know."):
        parts = world.gold_components(qa.prompt, response, ended=False)
        assert set(parts) == {"correctness", "politeness", "concision", "truncation", "repetition"}
        assert sum(parts.values()) == pytest.approx(world.gold_reward(qa.prompt, response, ended=False))
        assert parts["concision"] >= -2.0


def test_word_counting_helpers():
    assert count_words("Ada Lin lives in Velmora.") == 5
    assert count_words("Ada Lin 住在 Velmora。") == 4          # CJK characters count 1/2
    assert has_repetition("a b c x a b c") and not has_repetition("Ada Lin lives in Velmora.")
