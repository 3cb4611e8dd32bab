"""The synthetic world: facts, the questions asked about them, and what labelers write.

Real RLHF needs people to say what is good. We cannot ship people, so minilab ships a
small world whose ground truth is known, generated from a seed in about a second:

    world = make_world(seed=0)
    world.documents()            # pretraining documents ("the internet", made by corpus.py)
    world.sft_conversations()    # what labelers write: polite, concise, correct answers
    world.questions("train")     # prompts with known answers (RL / evaluation)
    world.gold_reward(prompt, response)   # what we truly want (gold.py); never shown to any model

Design choices
--------------
- Facts. 60 known people (home town, job, pet), 16 towns (each in a country), 6 countries
  (each with a capital): 202 facts, few enough for a ~1M-parameter model to memorize.
  Plus addition: every single-digit sum and most two-digit sums ("23 + 45 = 68").
- Unknown people. 40 more people who never appear in the corpus. 20 are "train"
  unknowns (a few dozen SFT chats answer "I don't know who X is."); 20 are "test"
  unknowns that appear nowhere at all, neither corpus nor SFT.
- Held-out prompts. `questions("heldout")` asks the training facts and sums in phrasings
  that no SFT or RL prompt uses (HELDOUT_TEMPLATES): new prompts from the same distribution,
  the split on which post-training is judged.
- Held-out facts. A quarter of the facts are asked about only in `questions("test")`:
  SFT never mentions them, so a test answer must come from pretraining memory.
  Likewise `addition_pairs("test")` are two-digit sums that appear nowhere.
- Labelers answer concisely most of the time, with the habits real demonstrations have:
  some padded with filler or flattery, some hedged (`labeler_answer`).
- The pretraining corpus is in corpus.py; the gold reward and the judge are in gold.py
  (`world.judge`, `world.gold_reward` and `world.gold_components` delegate to it).
"""
from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

from minilab import gold
from minilab.gold import FILLERS, FLATTERY, HEDGES, Judgement

# --------------------------------------------------------------------------- vocabulary
JOBS = {"baker": "面包师", "teacher": "老师", "doctor": "医生", "farmer": "农民", "painter": "画家",
        "sailor": "水手", "miner": "矿工", "nurse": "护士", "tailor": "裁缝", "potter": "陶艺师"}
PETS = {"cat": "猫", "dog": "狗", "parrot": "鹦鹉", "rabbit": "兔子", "turtle": "乌龟",
        "goat": "山羊", "hamster": "仓鼠", "owl": "猫头鹰"}
_FIRST = ["A", "Be", "Ca", "Da", "E", "Fa", "Ga", "I", "Ka", "La", "Ma", "Ni", "O", "Pe", "Ra",
          "Sa", "To", "U", "Ve", "Ya", "Zo", "Mi", "No", "Lu", "Ri"]
_SECOND = ["da", "ra", "na", "mo", "li", "ko", "ve", "ta", "ri", "lo", "sa", "mi", "no", "zu", "be"]
_LAST = ["Lin", "Vey", "Mor", "Tal", "Ren", "Sol", "Kest", "Dar", "Fen", "Hal", "Orn", "Pask",
         "Quill", "Rook", "Sand", "Thorn", "Ulm", "Voss", "Wren", "Yarn", "Brask", "Cole", "Dunn",
         "Ebb", "Fisk", "Gale", "Holt", "Iver", "Jory", "Kell"]
_TOWN_HEAD = ["Vel", "Kor", "Ash", "Bri", "Dun", "Fal", "Gar", "Hol", "Lum", "Mar", "Ost",
              "Pel", "Ros", "Sel", "Tam", "Wen", "Cal", "Eld"]
_TOWN_TAIL = ["mora", "vik", "ford", "dale", "holm", "wick", "mere", "by", "stead", "ton"]
_TO_ENGLISH = {zh: en for en, zh in {**JOBS, **PETS}.items()}
_COUNTRIES = ["Norland", "Azuria", "Kalmark", "Tirland", "Vestia", "Oromark", "Belland", "Suria"]

# ------------------------------------------------------------------------ templates
ANSWER_TEMPLATES = {  # the concise answer a labeler writes (the reference answer)
    "en": {"lives_in": "{p} lives in {t}.", "job": "{p} is {a_job}.", "pet": "{p} has {a_pet}.",
           "country": "{t} is in {c}.", "capital": "The capital of {c} is {t}.", "add": "{a} + {b} = {s}.",
           "unknown": "I don't know who {p} is."},
    "zh": {"lives_in": "{p} 住在 {t}。", "job": "{p} 是一名{job}。", "pet": "{p} 养了一只{pet}。",
           "country": "{t} 位于 {c}。", "capital": "{c} 的首都是 {t}。", "add": "{a} + {b} = {s}。",
           "unknown": "我不知道 {p} 是谁。"},
}
QUESTION_TEMPLATES = {  # how users ask (SFT, RL and evaluation prompts share these)
    "en": {"lives_in": ["Where does {p} live?", "Which town does {p} live in?", "Where is the home of {p}?"],
           "job": ["What does {p} do for a living?", "What is the job of {p}?", "What work does {p} do?"],
           "pet": ["What pet does {p} have?", "Which animal does {p} keep as a pet?", "What kind of pet does {p} own?"],
           "country": ["Which country is {t} in?", "In which country is the town of {t}?"],
           "capital": ["What is the capital of {c}?", "Which town is the capital of {c}?"],
           "add": ["What is {a} + {b}?", "What is {a} plus {b}?", "How much is {a} + {b}?"]},
    "zh": {"lives_in": ["{p} 住在哪里？", "{p} 住在哪个小镇？"],
           "job": ["{p} 是做什么工作的？", "{p} 的职业是什么？"],
           "pet": ["{p} 养了什么宠物？", "{p} 的宠物是什么？"],
           "country": ["{t} 在哪个国家？", "{t} 属于哪个国家？"],
           "capital": ["{c} 的首都是哪里？", "{c} 的首都是哪个小镇？"],
           "add": ["{a} + {b} 等于多少？", "{a} 加 {b} 是多少？"]},
}

HELDOUT_TEMPLATES = {  # phrasings no SFT or RL prompt uses, in words the corpus knows
    "en": {"lives_in": "In what town does {p} live?", "job": "What job does {p} have?",
           "pet": "Which pet does {p} have?", "country": "{t} is a town in which country?",
           "capital": "What town is the capital of {c}?", "add": "What is the sum of {a} and {b}?"},
    "zh": {"lives_in": "{p} 住在哪个镇？", "job": "{p} 做什么工作？", "pet": "{p} 养的是什么宠物？",
           "country": "{t} 是哪个国家的小镇？", "capital": "哪个小镇是 {c} 的首都？", "add": "{a} 加 {b} 等于多少？"},
}


def with_article(word: str) -> str:
    """"cat" -> "a cat", "owl" -> "an owl"."""
    return ("an " if word[0] in "aeiou" else "a ") + word


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Person:
    name: str
    town: str
    job: str          # English value; Chinese via JOBS
    pet: str          # English value; Chinese via PETS
    known: bool       # False: never appears in the pretraining corpus


@dataclass(frozen=True)
class QA:
    prompt: str
    answer: str              # in the prompt's language ("" for unknown people)
    entity: str              # person, town, country, or "23 + 45"
    relation: str            # lives_in | job | pet | country | capital | add
    known: bool              # False: the entity never appears in pretraining
    lang: str                # "en" | "zh"
    candidates: tuple        # every value of the relation's domain (in `lang`)


SPLITS = ("train", "test")
SUMS_ZH_SHARE = 0.15      # share of the sum questions asked in Chinese
QUESTION_SPLITS = ("train", "heldout", "test")


def _check_split(split: str, allowed: tuple = SPLITS) -> None:
    if split not in allowed:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(allowed)}")


def _value_regex(forms: dict[str, str]) -> re.Pattern:
    """One regex finding any surface form; longest first, so 猫头鹰 wins over 猫."""
    parts = []
    for form in sorted(forms, key=len, reverse=True):
        esc = re.escape(form)
        parts.append(f"(?<![A-Za-z]){esc}(?![A-Za-z])" if form.isascii() else esc)
    return re.compile("|".join(parts), re.I)


# ------------------------------------------------------------------------- the world
class World:
    """Facts, documents, conversations, questions and the gold reward for one seed."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        rng = random.Random(f"minilab-world-{seed}")
        self._make_facts(rng)
        self._make_questions(random.Random(f"minilab-questions-{seed}"))
        self._documents: list[str] | None = None
        self._corpus: str | None = None
        self._sft: list | None = None

    # 1. facts ------------------------------------------------------------------
    def _make_facts(self, rng: random.Random) -> None:
        heads, tails = rng.sample(_TOWN_HEAD, 16), [rng.choice(_TOWN_TAIL) for _ in range(16)]
        self.towns = [h + t for h, t in zip(heads, tails)]
        self.countries = rng.sample(_COUNTRIES, 6)
        self.country_of = {t: self.countries[i % 6] for i, t in enumerate(self.towns)}
        self.capital_of = {c: self.towns[i] for i, c in enumerate(self.countries)}
        firsts = rng.sample([a + b for a in _FIRST for b in _SECOND], 100)
        people = [Person(f"{first} {rng.choice(_LAST)}", rng.choice(self.towns), rng.choice(list(JOBS)),
                         rng.choice(list(PETS)), known=i < 60) for i, first in enumerate(firsts)]
        self.people = [p for p in people if p.known]
        self.unknown_people = {"train": [p for p in people if not p.known][:20],
                               "test": [p for p in people if not p.known][20:]}
        self.person = {p.name: p for p in people}
        self._value_res = {}
        for rel, domain, zh in (("lives_in", self.towns, None), ("capital", self.towns, None),
                                ("country", self.countries, None), ("job", list(JOBS), JOBS),
                                ("pet", list(PETS), PETS)):
            forms = {v: v for v in domain}
            if zh:
                forms.update({zh[v]: v for v in domain})
            self._value_res[rel] = (_value_regex(forms), {k.lower(): v for k, v in forms.items()})

    def facts(self) -> list[tuple[str, str, str]]:
        """Every known fact as (entity, relation, value), values in English."""
        out = [(p.name, r, getattr(p, {"lives_in": "town"}.get(r, r))) for p in self.people
               for r in ("lives_in", "job", "pet")]
        out += [(t, "country", self.country_of[t]) for t in self.towns]
        out += [(c, "capital", self.capital_of[c]) for c in self.countries]
        return out

    def slots(self, entity: str, relation: str, value: str, lang: str) -> dict:
        """Template slots for one fact; `value` in English."""
        if relation in ("lives_in", "job", "pet", "unknown"):
            p = self.person.get(entity)
            t = value if relation == "lives_in" else (p.town if p else "")
            job = value if relation == "job" else (p.job if p else "baker")
            pet = value if relation == "pet" else (p.pet if p else "cat")
            return dict(p=entity, t=t, c=self.country_of.get(t, ""), a_job=with_article(job), a_pet=with_article(pet),
                        job=JOBS[job] if lang == "zh" else job, pet=PETS[pet] if lang == "zh" else pet)
        if relation == "country":
            return dict(t=entity, c=value)
        if relation == "capital":
            return dict(c=entity, t=value)
        a, b = entity.split(" + ")
        return dict(a=a, b=b, s=value)

    def render_answer(self, qa: QA, value: str | None = None) -> str:
        """The concise answer sentence for `qa`, stating `value` (default: the true answer).
        For unknown people with no value this is "I don't know who X is." """
        relation = qa.relation if (qa.known or value) else "unknown"
        value = value if value is not None else qa.answer
        slots = self.slots(qa.entity, relation, self.english(value), qa.lang)
        return ANSWER_TEMPLATES[qa.lang][relation].format(**slots)

    def reference_answer(self, prompt: str) -> str:
        """What a careful labeler would write: the concise answer or "I don't know who X is." """
        return self.render_answer(self.qa(prompt))

    # 2. questions ----------------------------------------------------------------
    def _make_questions(self, rng: random.Random) -> None:
        self._qa: dict[str, QA] = {}
        facts = self.facts()
        rng.shuffle(facts)
        n_test = len(facts) // 4
        self._questions = {"train": [], "test": []}
        for i, (entity, relation, value) in enumerate(facts):
            split = "test" if i < n_test else "train"
            self._questions[split] += self._qas(entity, relation, value, known=True)
        # addition: the "test" pairs never appear anywhere (for notebook 04's probe)
        two_digit = [(a, b) for a in range(10, 100) for b in range(10, 100)]
        rng.shuffle(two_digit)
        self._addition = {"test": sorted(two_digit[:400]), "train": sorted(two_digit[400:])}
        singles = [(a, b) for a in range(10) for b in range(10)]
        rng.shuffle(singles)
        asked = {"train": singles[20:] + rng.sample(self._addition["train"], 200),
                 "test": singles[:20] + rng.sample(self._addition["train"], 60)}
        asked["test"] = [ab for ab in asked["test"] if ab not in set(asked["train"])]   # never in SFT
        for split, pairs in asked.items():
            for a, b in pairs:
                lang = "zh" if rng.random() < SUMS_ZH_SHARE else "en"
                tmpl = rng.choice(QUESTION_TEMPLATES[lang]["add"])
                self._questions[split].append(self._qa_for(tmpl.format(a=a, b=b), f"{a} + {b}", "add",
                                                           str(a + b), True, lang))
        self._unknown = {split: [qa for p in self.unknown_people[split] for rel in ("lives_in", "job", "pet")
                                 for qa in self._qas(p.name, rel, "", known=False)] for split in SPLITS}
        # held-out prompts: the training questions' facts and sums, in phrasings no training prompt uses
        # (facts are asked in 2-3 phrasings each, sums in one: every third sum keeps the mix of the train split)
        seen, self._questions["heldout"] = set(), []
        sums = [q for q in self._questions["train"] if q.relation == "add"][::3]
        for q in [q for q in self._questions["train"] if q.relation != "add"] + sums:
            if (q.entity, q.relation, q.lang) not in seen:
                seen.add((q.entity, q.relation, q.lang))
                a, _, b = q.entity.partition(" + ")
                prompt = HELDOUT_TEMPLATES[q.lang][q.relation].format(p=q.entity, t=q.entity, c=q.entity, a=a, b=b)
                self._questions["heldout"].append(self._qa_for(prompt, q.entity, q.relation, q.answer, True, q.lang))

    def _qas(self, entity: str, relation: str, value: str, known: bool) -> list[QA]:
        out, slots = [], dict(p=entity, t=entity, c=entity)   # questions name only the entity
        for lang in ("en", "zh"):
            answer = value and (JOBS.get(value) if relation == "job" and lang == "zh" else
                                PETS.get(value) if relation == "pet" and lang == "zh" else value)
            for tmpl in QUESTION_TEMPLATES[lang][relation]:
                out.append(self._qa_for(tmpl.format(**slots), entity, relation, answer, known, lang))
        return out

    def _qa_for(self, prompt, entity, relation, answer, known, lang) -> QA:
        if relation == "add":
            candidates = tuple(str(n) for n in range(199))
        else:
            domain = {"lives_in": self.towns, "capital": self.towns, "country": self.countries,
                      "job": list(JOBS), "pet": list(PETS)}[relation]
            table = JOBS if relation == "job" else PETS if relation == "pet" else {}
            candidates = tuple(table.get(v, v) if lang == "zh" else v for v in domain)
        qa = QA(prompt, answer, entity, relation, known, lang, candidates)
        assert prompt not in self._qa, f"duplicate prompt {prompt!r}"
        self._qa[prompt] = qa
        return qa

    def questions(self, split: str) -> list[QA]:
        """Prompts about known facts and sums.
        "train": what SFT demonstrations and RL prompts ask. "heldout": the same facts and sums
        asked in phrasings no training prompt uses (the main evaluation: same distribution, new
        prompts, as InstructGPT's held-out prompts). "test": facts SFT never mentions and sums
        that appear nowhere, so an answer must come from pretraining memory."""
        _check_split(split, QUESTION_SPLITS)
        return list(self._questions[split])

    def unknown_questions(self, split: str) -> list[QA]:
        """Prompts about people who never appear in pretraining ("test": nowhere at all)."""
        _check_split(split)
        return list(self._unknown[split])

    def addition_pairs(self, split: str) -> list[tuple[int, int]]:
        """Two-digit sums: "train" pairs appear in the corpus, "test" pairs nowhere."""
        _check_split(split)
        return list(self._addition[split])

    def qa(self, prompt: str) -> QA:
        """The question behind a prompt text (as in questions(), unknown_questions() or SFT)."""
        key = prompt.strip()
        if key not in self._qa:
            raise KeyError(f"{prompt!r} is not a question of this world (seed {self.seed}); "
                           f"use the prompts of world.questions(split) or world.unknown_questions(split)")
        return self._qa[key]

    # 3. reading a reply: the values it states --------------------------------------
    def stated_values(self, qa: QA, response: str) -> set[str]:
        """Candidate values a response states, in English (numbers for sums)."""
        if qa.relation == "add":
            a, b = qa.entity.split(" + ")
            text = re.sub(rf"(?<!\d){a}\s*(?:\+|plus|加)\s*{b}(?!\d)", " ", response, flags=re.I)
            return {str(int(n)) for n in re.findall(r"(?<!\d)\d+(?!\d)", text)}
        regex, canon = self._value_res[qa.relation]
        return {canon[m.group(0).lower()] for m in regex.finditer(response)}

    def english(self, value: str) -> str:
        """A job or pet named in Chinese, in English; any other value unchanged."""
        return _TO_ENGLISH.get(value, value)

    # The gold reward and the judge live in gold.py; these methods are the world's handle on them.
    def judge(self, prompt: str, response: str) -> Judgement:
        """Sort a response into the five outcomes of the hallucination reward table (gold.judge)."""
        return gold.judge(self, prompt, response)

    def gold_components(self, prompt: str, response: str, ended: bool = True) -> dict[str, float]:
        """The terms of the gold reward; they sum to gold_reward (gold.gold_components)."""
        return gold.gold_components(self, prompt, response, ended)

    def gold_reward(self, prompt: str, response: str, ended: bool = True) -> float:
        """What we truly want: correct, polite, concise, well-formed. Never shown to a model (gold.gold_reward)."""
        return gold.gold_reward(self, prompt, response, ended)

    # 4. SFT conversations --------------------------------------------------------
    def sft_conversations(self) -> list[list[dict]]:
        """What labelers write: ~3k chats, mostly one turn, some two; EN and ZH."""
        if self._sft is None:
            self._sft = _make_sft(self, random.Random(f"minilab-sft-{self.seed}"))
        return [[dict(m) for m in conv] for conv in self._sft]

    def labeler_answer(self, qa: QA, rng: random.Random) -> str:
        """One labeler's answer: concise (80%), + filler or flattery (15%), hedged (5%)."""
        answer = self.render_answer(qa)
        u = rng.random()
        if u < 0.075:
            return answer + (" " if qa.lang == "en" else "") + rng.choice(FILLERS[qa.lang])
        if u < 0.15:
            return rng.choice(FLATTERY[qa.lang]) + (" " if qa.lang == "en" else "") + answer
        if u < 0.20 and qa.known:
            return hedge(answer, qa.lang, rng)
        return answer

    # 5. the pretraining corpus (corpus.py generates it) ----------------------------
    def documents(self) -> list[str]:
        """The pretraining documents ("the internet"); no special tokens, no chat format."""
        if self._documents is None:
            from minilab.corpus import make_documents   # at call time: corpus.py imports world.py
            self._documents = make_documents(self, random.Random(f"minilab-corpus-{self.seed}"))
        return list(self._documents)

    def corpus(self) -> str:
        """All documents joined by "<|endoftext|>"."""
        if self._corpus is None:
            self._corpus = "<|endoftext|>".join(self.documents())
        return self._corpus


def hedge(answer: str, lang: str, rng: random.Random) -> str:
    """'Ada Lin lives in Velmora.' -> 'I think Ada Lin lives in Velmora.'"""
    h = rng.choice(HEDGES[lang])
    if lang == "zh":
        return h + answer
    if answer.startswith("The "):
        answer = "t" + answer[1:]
    return f"{h} {answer}"


SFT_ZH_SHARE = 0.2     # share of SFT conversations in Chinese


def _make_sft(world: World, rng: random.Random) -> list[list[dict]]:
    by_lang = {lang: [q for q in world.questions("train") if q.lang == lang] for lang in ("en", "zh")}
    convs = []
    for _ in range(3000):
        turns = 2 if rng.random() < 0.1 else 1
        conv = []
        for qa in rng.sample(by_lang["zh" if rng.random() < SFT_ZH_SHARE else "en"], turns):
            conv += [{"role": "user", "content": qa.prompt},
                     {"role": "assistant", "content": world.labeler_answer(qa, rng)}]
        convs.append(conv)
    for qa in rng.sample(world.unknown_questions("train"), 40):   # "I don't know who X is."
        convs.append([{"role": "user", "content": qa.prompt},
                      {"role": "assistant", "content": world.render_answer(qa)}])
    rng.shuffle(convs)
    return convs


@functools.lru_cache(maxsize=8)
def make_world(seed: int = 0) -> World:
    """The world for `seed` (deterministic; cached, so repeated calls are free)."""
    return World(seed)
