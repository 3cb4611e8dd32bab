"""The pretraining corpus ("the internet"): documents made from the world's facts.

    docs = make_documents(world, random.Random(f"minilab-corpus-{world.seed}"))
    world.documents()          # the same list, cached on the world (what everyone calls)

The corpus imitates the internet, not an assistant: encyclopedia paragraphs, short stories,
arithmetic worksheets, and forum threads where a question is followed by more questions,
off-topic, rude or wrong replies before (sometimes) a right one. The first reply to a question
is never its answer. ~15% of documents are Chinese (ZH_SHARE), with entity names kept in
Latin script ("Ada Lin 住在 Velmora。") so facts can transfer across languages. Wrong answers
in forums are always rumours ("I heard ... Korvik?"), never in the canonical form "X lives in
Y", which is always true. Unknown people and the held-out sums never appear.

Every generator takes the world as an argument; world.py does not import this module at
import time (`World.documents` imports it when first called), so there is no import cycle.
"""
from __future__ import annotations

import random

from minilab.world import JOBS, PETS, Person, World, with_article

# Slots: p person, t town, c country, job/pet (a_job/a_pet with article), a b s for sums.
FACT_TEMPLATES = {  # canonical true statements, used in the corpus
    "en": {"lives_in": ["{p} lives in {t}.", "{p} lives in {t}, a town in {c}.", "The home of {p} is in {t}."],
           "job": ["{p} is {a_job}.", "{p} works as {a_job}.", "By trade, {p} is {a_job}."],
           "pet": ["{p} has {a_pet}.", "{p} keeps {a_pet} as a pet.", "At home, {p} has {a_pet}."],
           "country": ["{t} is in {c}.", "{t} is a town in {c}.", "The town of {t} lies in {c}."],
           "capital": ["The capital of {c} is {t}.", "{t} is the capital of {c}."]},
    "zh": {"lives_in": ["{p} 住在 {t}。", "{p} 住在 {t}，那是 {c} 的一个小镇。"],
           "job": ["{p} 是一名{job}。", "{p} 的职业是{job}。"],
           "pet": ["{p} 养了一只{pet}。", "{p} 的宠物是{pet}。"],
           "country": ["{t} 位于 {c}。", "{t} 是 {c} 的一个小镇。"],
           "capital": ["{c} 的首都是 {t}。", "{t} 是 {c} 的首都。"]},
}

# Each generator returns one document. Slots as in FACT_TEMPLATES; a second person's
# slots are prefixed "q_". True facts appear only in the canonical FACT_TEMPLATES forms;
# wrong ones only as rumours ("I heard ...?"), so a regex can check the corpus.
_FLUFF = {"en": ["{p} enjoys long walks by the river.", "Neighbours say {p} makes excellent tea.",
                 "{p} was born in a small village.", "Every spring {p} plants tomatoes.",
                 "On weekends {p} likes to sing."],
          "zh": ["{p} 喜欢在河边散步。", "邻居们说 {p} 泡的茶很好喝。", "{p} 每年春天都种西红柿。", "周末 {p} 喜欢唱歌。"]}
_STORIES = {
    "en": ["One morning, {p} took the {pet} for a walk through {t}. As {a_job}, {p} had a long day ahead, "
           "but the sun was warm and the streets of {t} were quiet. Later, {p} met {q_p} at the market. "
           "{q_p} lives in {q_t} and had come to sell a few things.",
           "{p} had never been far from {t}. Every evening, after work as {a_job}, {p} fed the {pet} and read "
           "by the fire. One day a letter arrived from {q_p}, {q_a_job} in {q_t}, asking for help.",
           "The festival of {c} came to {t} in the autumn. {p}, who lives in {t}, brought the {pet} to see the "
           "lanterns. {q_p} was there too; {q_p} is {q_a_job} and told everyone stories about life in {q_t}.",
           "A short tale. {q_p} lost a {q_pet} in {q_t}, and the whole town searched for it. In the end {p}, "
           "{a_job} visiting from {t}, found the {q_pet} asleep in a barrel. {q_p} has kept the {q_pet} indoors ever since."],
    "zh": ["一天早上，{p} 带着{pet}在 {t} 的街上散步。作为一名{job}，{p} 这一天很忙。后来 {p} 在集市上遇到了 {q_p}。"
           "{q_p} 住在 {q_t}。",
           "{c} 的节日到了 {t}。{p} 住在 {t}，带着自己的{pet}去看灯笼。{q_p} 也来了，{q_p} 是一名{q_job}，"
           "给大家讲了 {q_t} 的故事。",
           "{q_p} 在 {q_t} 丢了一只{q_pet}，全镇的人都去找。最后，从 {t} 来的{job} {p} 在一个木桶里找到了它。"],
}
_FORUM_Q = {
    "en": {"lives_in": ["Does anyone know where {p} lives?", "Looking for {p}. Which town was it again?"],
           "job": ["What does {p} do for work? Asking for a friend.", "Does anyone know what job {p} has?"],
           "pet": ["What kind of pet does {p} have? I saw it through the window.", "Anyone know what animal {p} keeps?"],
           "country": ["Which country is {t} in? Planning a trip.", "Quick one: {t} is in which country?"],
           "capital": ["What's the capital of {c} again?", "Quick one: capital of {c}?"],
           "add": ["What is {a} + {b}? My calculator is broken.", "Can someone check {a} + {b} for me?"]},
    "zh": {"lives_in": ["有人知道 {p} 住在哪里吗？", "我在找 {p}，是哪个小镇来着？"],
           "job": ["{p} 是做什么工作的？有人知道吗？"], "pet": ["{p} 养的是什么宠物？"],
           "country": ["{t} 在哪个国家？准备去旅行。"], "capital": ["{c} 的首都是哪里来着？"],
           "add": ["{a} + {b} 等于多少？计算器坏了。"]},
}
_REPLIES = {
    "en": {"question": ["Why do you want to know?", "Same question here.", "+1, I was wondering too.",
                        "Did you try asking at the town hall?"],
           "offtopic": ["Does anyone know a good bakery around here?", "First!", "Sorry, wrong thread.",
                        "The weather has been lovely lately.", "Off topic, but has anyone seen my umbrella?"],
           "rude": ["Google it.", "What a stupid question.", "Figure it out yourself.", "Who cares?"],
           "wrong": ["Wasn't it {w}? Not sure.", "Pretty sure it's {w}, but don't quote me.",
                     "I heard {w}, but I might be wrong."],
           "right": ["{fact}", "{fact} Everyone knows that.", "I asked around. {fact}", "{fact} I see them every week."]},
    "zh": {"question": ["你问这个干什么？", "同问。", "我也想知道。", "你去镇上问过吗？"],
           "offtopic": ["有人推荐好吃的面包店吗？", "沙发！", "发错帖子了，抱歉。", "最近天气真好。"],
           "rude": ["自己查去。", "这都不知道？", "蠢问题。", "谁在乎啊。"],
           "wrong": ["好像是 {w} 吧？", "我听说是 {w}，不太确定。", "不是 {w} 吗？"],
           "right": ["{fact}", "{fact}大家都知道。", "我问过了，{fact}"]},
}
_USERS = ["kiro", "mela", "tomv", "zed", "lumi", "pax", "rina", "gus", "bo", "nox", "fern", "ivy", "quo", "hana"]


def _person_slots(world: World, p: Person, lang: str, prefix: str = "") -> dict:
    s = world.slots(p.name, "lives_in", p.town, lang)
    return {prefix + k: v for k, v in s.items()}


def _doc_person(world: World, rng: random.Random, p: Person, lang: str) -> str:
    s = _person_slots(world, p, lang)
    relations = ["lives_in", "job", "pet"] + (["country"] if rng.random() < 0.4 else [])
    rng.shuffle(relations)
    sents = [rng.choice(FACT_TEMPLATES[lang][r]).format(**s) for r in relations]
    sents.insert(rng.randrange(len(sents) + 1), rng.choice(_FLUFF[lang]).format(**s))
    title = rng.choice(["{p}", "About {p}", "{p} ({t})"] if lang == "en" else ["{p}", "关于 {p}", "{p}（{t}）"])
    return title.format(**s) + "\n\n" + ("" if lang == "zh" else " ").join(sents)


def _doc_place(world: World, rng: random.Random, lang: str) -> str:
    sep = "" if lang == "zh" else " "
    if rng.random() < 0.3:                                   # a country
        c = rng.choice(world.countries)
        towns = [t for t in world.towns if world.country_of[t] == c]
        listed = ("、" if lang == "zh" else ", ").join(rng.sample(towns, len(towns)))
        head = (f"{c} 是一个国家，有 {len(towns)} 个小镇：{listed}。" if lang == "zh" else
                f"{c} is a country with {len(towns)} towns: {listed}.")
        return c + "\n\n" + head + sep + rng.choice(FACT_TEMPLATES[lang]["capital"]).format(c=c, t=world.capital_of[c])
    t = rng.choice(world.towns)
    s = dict(t=t, c=world.country_of[t])
    sents = [rng.choice(FACT_TEMPLATES[lang]["country"]).format(**s)]
    if world.capital_of[s["c"]] == t:
        sents.append(rng.choice(FACT_TEMPLATES[lang]["capital"]).format(**s))
    residents = [p for p in world.people if p.town == t]
    if residents:
        chosen = rng.sample(residents, min(3, len(residents)))
        names = ("、" if lang == "zh" else ", ").join(p.name for p in chosen)
        sents.append(f"住在 {t} 的人有 {names}。" if lang == "zh" else f"People who live in {t} include {names}.")
        for p in chosen[:2]:
            sents.append(rng.choice(FACT_TEMPLATES[lang][rng.choice(["job", "pet"])]).format(**_person_slots(world, p, lang)))
    return t + "\n\n" + sep.join(sents)


def _doc_story(world: World, rng: random.Random, lang: str) -> str:
    p, q = rng.sample(world.people, 2)
    return rng.choice(_STORIES[lang]).format(**_person_slots(world, p, lang), **_person_slots(world, q, lang, "q_"))


def _doc_forum(world: World, rng: random.Random, lang: str, facts: list) -> str:
    entity, relation, value = rng.choice(facts)
    if relation == "add":
        a, b = entity.split(" + ")
        s, fact = dict(a=a, b=b), f"{entity} = {value}" + ("。" if lang == "zh" else ".")
        wrong = str(int(value) + rng.choice([-10, -2, -1, 1, 2, 10]))
    else:
        s = (_person_slots(world, world.person[entity], lang) if relation in ("lives_in", "job", "pet")
             else world.slots(entity, relation, value, lang))
        fact = rng.choice(FACT_TEMPLATES[lang][relation]).format(**s)
        domain = {"lives_in": world.towns, "capital": world.towns, "country": world.countries,
                  "job": list(JOBS), "pet": list(PETS)}[relation]
        wrong = rng.choice([v for v in domain if v != value])
        if relation in ("job", "pet"):
            wrong = {**JOBS, **PETS}[wrong] if lang == "zh" else with_article(wrong)
    replies = _REPLIES[lang]
    # the first reply never answers: the internet rarely does
    kinds = [rng.choice(["question", "offtopic", "rude", "wrong"])]
    kinds += rng.choices(["question", "offtopic", "rude", "wrong", "right"], [2, 2, 1, 2, 3], k=rng.randint(1, 5))
    users = [rng.choice(_USERS) + rng.choice(["", "_", "."]) + str(rng.randint(1, 99)) for _ in range(len(kinds) + 1)]
    posts = [f"{users[0]}: " + rng.choice(_FORUM_Q[lang][relation]).format(**s)]
    for user, kind in zip(users[1:], kinds):
        options = replies[kind][:2] if (kind == "right" and relation == "add") else replies[kind]
        posts.append(f"{user}: " + rng.choice(options).format(fact=fact, w=wrong))
    board = rng.choice(["Town Talk", "General Chat", "Help Desk"] if lang == "en" else ["闲聊区", "问答区"])
    return f"{board} | " + posts[0].split(": ", 1)[1] + "\n\n" + "\n\n".join(posts)


def _doc_sums(world: World, rng: random.Random, lang: str, two_digit) -> str:
    u = rng.random()
    if u < 0.2:                                           # a table for one small number
        n = rng.randrange(10)
        head = f"{n} 的加法表" if lang == "zh" else f"Addition table for {n}"
        return head + "\n\n" + "\n".join(f"{n} + {k} = {n + k}" for k in range(10))
    if u < 0.35:                                          # sums in sentences
        pairs = [next(two_digit) for _ in range(rng.randint(3, 6))]
        tmpl = "{a} 加 {b} 等于 {s}。" if lang == "zh" else "The sum of {a} and {b} is {s}."
        return ("" if lang == "zh" else " ").join(tmpl.format(a=a, b=b, s=a + b) for a, b in pairs)
    pairs = [next(two_digit) if rng.random() < 0.8 else (rng.randrange(10), rng.randrange(10))
             for _ in range(rng.randint(8, 24))]
    head = rng.choice(["加法练习", "数学作业（含答案）"] if lang == "zh" else
                      ["Addition practice", "Math homework, answers included", "Sums for class 3"])
    return head + "\n\n" + "\n".join(f"{a} + {b} = {a + b}" for a, b in pairs)


def _cycle(items: list, rng: random.Random):
    while True:
        items = rng.sample(items, len(items))
        yield from items


# How many documents of each kind (about 2.5 MB in all, see the tests).
N_DOCS = {"person": 1800, "place": 800, "story": 2400, "forum": 3800, "sums": 2000}
ZH_SHARE = 0.15


def make_documents(world: World, rng: random.Random) -> list[str]:
    lang = lambda: "zh" if rng.random() < ZH_SHARE else "en"
    two_digit = _cycle(world.addition_pairs("train"), rng)
    forum_facts = world.facts() + [(f"{a} + {b}", "add", str(a + b)) for a, b in
                                   rng.sample(world.addition_pairs("train"), 200)]
    people = _cycle(world.people, rng)
    docs = [_doc_person(world, rng, next(people), lang()) for _ in range(N_DOCS["person"])]
    docs += [_doc_place(world, rng, lang()) for _ in range(N_DOCS["place"])]
    docs += [_doc_story(world, rng, lang()) for _ in range(N_DOCS["story"])]
    docs += [_doc_forum(world, rng, lang(), forum_facts) for _ in range(N_DOCS["forum"])]
    docs += [_doc_sums(world, rng, lang(), two_digit) for _ in range(N_DOCS["sums"])]
    rng.shuffle(docs)
    return docs
