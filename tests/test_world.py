"""The synthetic world: deterministic, consistent, and its gold reward orders answers as a person would."""
import hashlib
import re

import pytest

from minilab.config import SPECIAL_TOKENS
from minilab.gold import count_words
from minilab.world import JOBS, World, make_world

NAME = r"([A-Z][a-z]+ [A-Z][a-z]+)"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def corpus(world):
    return world.corpus()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------ determinism and size
def test_same_seed_same_bytes_different_seed_differs(world, corpus):
    fresh = World(0)                       # not the cached object: really regenerated
    assert _sha(fresh.corpus()) == _sha(corpus)
    assert fresh.sft_conversations() == world.sft_conversations()
    assert [q.prompt for q in fresh.questions("test")] == [q.prompt for q in world.questions("test")]
    assert _sha(World(1).corpus()) != _sha(corpus)
    assert make_world(0) is world          # cached per seed


def test_corpus_has_the_stated_size():
    docs = World(3).documents()                 # how long this takes: scripts/bench_world.py
    size_mb = len("<|endoftext|>".join(docs).encode()) / 1e6
    assert 2.0 <= size_mb <= 4.0, size_mb
    assert len(docs) > 5000


def test_chinese_share_of_documents(world):
    docs = world.documents()
    share = sum(bool(CJK.search(d)) for d in docs) / len(docs)
    assert 0.12 <= share <= 0.18, share       # ~15% of documents are Chinese


# -------------------------------------------------------------------------- the corpus
def test_no_special_tokens_or_chat_format_in_documents(world):
    for doc in world.documents():
        assert "<|" not in doc and "|>" not in doc
        assert not any(tok in doc for tok in SPECIAL_TOKENS)
    corpus = "\n".join(world.documents())
    assert not re.search(r"^(user|assistant)\s*:", corpus, re.I | re.M)
    # no question is directly followed by its concise answer ("Q -> A" is what SFT teaches)
    for qa in world.questions("train")[::5]:
        ref = world.reference_answer(qa.prompt)
        assert not re.search(re.escape(qa.prompt) + r"\s*(\S+:\s*)?" + re.escape(ref), corpus)


def test_unknown_people_never_in_corpus_and_test_unknowns_nowhere(world, corpus):
    unknown = world.unknown_people["train"] + world.unknown_people["test"]
    assert len(unknown) == 40
    for person in unknown:
        assert person.name not in corpus, person.name
    sft_text = "\n".join(m["content"] for conv in world.sft_conversations() for m in conv)
    for person in world.unknown_people["test"]:
        assert person.name not in sft_text, person.name
    said_idk = [p.name for p in world.unknown_people["train"] if p.name in sft_text]
    assert len(said_idk) >= 10            # some unknowns get an "I don't know" in SFT
    for qa in world.unknown_questions("test"):
        assert qa.entity in {p.name for p in world.unknown_people["test"]}


def test_facts_are_consistent_across_documents_and_languages(world, corpus):
    town_of = {p.name: p.town for p in world.people}
    job_of = {p.name: p.job for p in world.people}
    lives = re.findall(NAME + r" (?:lives in|住在) ([A-Z][a-z]+)", corpus)
    zh_lives = re.findall(NAME + r" 住在 ([A-Z][a-z]+)", corpus)
    assert len(lives) > 2000 and len(zh_lives) > 200
    bad = [(who, where) for who, where in lives if town_of.get(who) != where]
    assert not bad, bad[:5]
    jobs = re.findall(NAME + r" (?:is an?|works as an?) ([a-z]+)\.", corpus)
    zh_jobs = re.findall(NAME + r" 是一名(\w+?)。", corpus)
    assert len(jobs) > 1000 and len(zh_jobs) > 100
    assert all(job_of[who] == job for who, job in jobs)
    assert all(JOBS[job_of[who]] == job for who, job in zh_jobs)
    capitals = re.findall(r"(?:capital of ([A-Z][a-z]+) is|([A-Z][a-z]+) 的首都是) ([A-Z][a-z]+)", corpus)
    assert len(capitals) > 100
    assert all(world.capital_of[a or b] == town for a, b, town in capitals)


def test_every_known_fact_is_in_the_corpus_many_times(world, corpus):
    for person in world.people:
        assert corpus.count(f"{person.name} lives in {person.town}") >= 5, person


def test_held_out_sums_appear_nowhere(world, corpus):
    sft_text = "\n".join(m["content"] for conv in world.sft_conversations() for m in conv)
    held_out = world.addition_pairs("test")
    assert len(held_out) == 400
    text = corpus + sft_text
    seen = set(re.findall(r"(?<!\d)(\d+) (?:\+|plus|加) (\d+)(?!\d)", text))
    seen |= set(re.findall(r"sum of (\d+) and (\d+)", text))
    assert not seen & {(str(a), str(b)) for a, b in held_out}
    assert len(seen & {(str(a), str(b)) for a, b in world.addition_pairs("train")}) > 7000


# ---------------------------------------------------------------- questions and SFT
def test_splits_and_bad_split_names(world):
    train, test = world.questions("train"), world.questions("test")
    assert len(train) > 500 and len(test) > 150
    assert not {q.prompt for q in train} & {q.prompt for q in test}
    test_facts = {(q.entity, q.relation) for q in test}
    sft_prompts = {m["content"] for conv in world.sft_conversations() for m in conv if m["role"] == "user"}
    assert not any((world.qa(p).entity, world.qa(p).relation) in test_facts for p in sft_prompts)
    with pytest.raises(ValueError, match="train, heldout, test"):
        world.questions("validation")
    for method in (world.unknown_questions, world.addition_pairs):
        with pytest.raises(ValueError, match="train, test"):
            method("validation")


def test_heldout_prompts_ask_training_facts_in_new_phrasings(world):
    """InstructGPT's held-out prompts come from the training distribution: the same facts and
    sums as the train split, phrased in ways no SFT or RL prompt uses."""
    train, heldout = world.questions("train"), world.questions("heldout")
    sft_prompts = {m["content"] for conv in world.sft_conversations() for m in conv if m["role"] == "user"}
    assert len(heldout) > 300
    assert not {q.prompt for q in heldout} & ({q.prompt for q in train} | sft_prompts)
    train_facts = {(q.entity, q.relation, q.answer) for q in train}
    assert all((q.entity, q.relation, q.answer) in train_facts for q in heldout)
    share = lambda qs: sum(q.relation == "add" for q in qs) / len(qs)
    assert abs(share(heldout) - share(train)) < 0.05                   # the same mix of sums and facts
    assert all(world.gold_reward(q.prompt, world.render_answer(q)) == 2.0 for q in heldout)


def test_questions_are_short_and_answerable(world):
    for qa in world.questions("train") + world.questions("heldout") + world.questions("test"):
        assert count_words(qa.prompt) < 20
        assert qa.answer in qa.candidates and qa.known
        assert world.qa(qa.prompt) == qa
        assert world.judge(qa.prompt, world.reference_answer(qa.prompt)).outcome == "confident-correct"
    for qa in world.unknown_questions("train"):
        assert not qa.known and qa.answer == ""


def test_qa_lookup_error_is_clear(world):
    with pytest.raises(KeyError, match="not a question of this world"):
        world.qa("What is the meaning of life?")


# (prompt, response, ended; "P" stands for a real prompt) -> the words the TypeError must hold
BAD_GOLD_ARGUMENTS = [
    (("P", None, True), "response must be a str (the response's text), got None (NoneType)"),
    (("P", b"Paris", True), "response must be a str (the response's text), got b'Paris' (bytes)"),
    (("P", ["Paris"], True), "response must be a str (the response's text), got ['Paris'] (list)"),
    ((None, "Paris", True), "prompt must be a str (the prompt's text), got None (NoneType)"),
    (("P", "Paris", "no"), "ended must be True or False (did the reply end before the length limit?), got 'no' (str)"),
    (("P", "Paris", 0), "ended must be True or False (did the reply end before the length limit?), got 0 (int)"),
    (("P", "Paris", None), "ended must be True or False (did the reply end before the length limit?), got None (NoneType)"),
]


@pytest.mark.parametrize("method", ["gold_reward", "gold_components"])
@pytest.mark.parametrize("args, message", BAD_GOLD_ARGUMENTS)
def test_gold_reward_refuses_bad_arguments_in_one_line(world, method, args, message):
    prompt = world.questions("train")[0].prompt
    args = tuple(prompt if a == "P" else a for a in args)
    with pytest.raises(TypeError) as err:
        getattr(world, method)(*args)
    assert str(err.value) == message


def test_judge_refuses_a_response_that_is_not_text(world):
    with pytest.raises(TypeError, match=r"response must be a str .*got None \(NoneType\)"):
        world.judge(world.questions("train")[0].prompt, None)


def test_sft_conversations_are_chats_in_both_languages(world):
    convs = world.sft_conversations()
    assert 2000 <= len(convs) <= 5000
    assert any(len(c) == 4 for c in convs)
    for conv in convs:
        assert [m["role"] for m in conv] == ["user", "assistant"] * (len(conv) // 2)
        assert not any("<|" in m["content"] for m in conv)
    answers = [c[1]["content"] for c in convs]
    assert 0.10 < sum(bool(CJK.search(a)) for a in answers) / len(answers) < 0.25
    padded = sum(any(f in a for f in ("Happy to help", "hope this helps", "question!", "好问题", "帮助")) for a in answers)
    assert 0.08 < padded / len(answers) < 0.25
    idk = sum("don't know" in a or "不知道" in a for a in answers)
    assert 20 <= idk <= 60
