"""Deterministic synthetic training data for the demo model (all generated here: no licence issue).

Kinds of chat turns (question -> answer):
  add      "What is 17 plus 25?"              -> "17 + 25 = 42."      A, B in 0..99
  count    "Count from 3 to 7."               -> "3, 4, 5, 6, 7."     start 0..99, 3..8 numbers
  reverse  "Reverse the letters c a t."       -> "t a c."             3..6 random lowercase letters
  capital  "What is the capital of Velmora?"  -> "The capital of Velmora is Tasko."
Plus plain text: paragraphs from a small grammar, with statements about the invented countries'
capitals in several phrasings. For `capital`, the question/answer pairs of a fixed set of
countries are held out: their capitals appear only in plain-text statements, so the held-out
score measures whether the model turns text knowledge into answers.
Letters are spaced in `reverse` so that each letter is one token and the task can generalize to
unseen strings.
"""
import random

SYSTEM_PROMPTS = ["You are a helpful assistant.", "Answer briefly."]


def chat_text(turns, system=None, bos="<|startoftext|>"):
    """Render like the model's chat template (no tools): bos, optional system, turns."""
    s = bos
    if system:
        s += "<|im_start|>system\n" + system + "<|im_end|>\n"
    for role, content in turns:
        s += "<|im_start|>" + role + "\n" + content + "<|im_end|>\n"
    return s


def prompt_text(question, system=None):
    return chat_text([("user", question)], system) + "<|im_start|>assistant\n"


# ---------------------------------------------------------------- kinds

def add_qa(a, b):
    return "What is %d plus %d?" % (a, b), "%d + %d = %d." % (a, b, a + b)


def count_qa(a, n):
    return "Count from %d to %d." % (a, a + n - 1), ", ".join(str(a + i) for i in range(n)) + "."


def reverse_qa(letters):
    return "Reverse the letters %s." % " ".join(letters), " ".join(reversed(letters)) + "."


def capital_qa(country, capital):
    return "What is the capital of %s?" % country, "The capital of %s is %s." % (country, capital)


_SYL_A = ["bar", "vel", "tor", "mi", "ka", "zan", "lo", "dre", "fen", "qua", "sil", "ror",
          "pa", "ne", "gum", "sha", "ti", "vor", "lin", "mar", "ost", "bel", "cor", "dun"]
_SYL_B = ["mora", "dia", "land", "stan", "nia", "via", "ria", "tova", "gard", "mere", "lor",
          "ssa", "heim", "dor", "tia", "vania"]
_CAP_B = ["ton", "burg", "ville", "ska", "polis", "ra", "mund", "ford", "holm", "dal", "vik",
          "grad", "ris", "no"]


def make_countries(rng, n):
    names, caps, seen = [], [], set()
    while len(names) < n:
        c = (rng.choice(_SYL_A) + rng.choice(_SYL_A) + rng.choice(_SYL_B)).capitalize()
        k = (rng.choice(_SYL_A) + rng.choice(_CAP_B)).capitalize()
        if c in seen or k in seen:
            continue
        seen.update((c, k))
        names.append(c)
        caps.append(k)
    return list(zip(names, caps))


# ---------------------------------------------------------------- plain text grammar

_NAMES = ["Anna", "Tom", "Mia", "Leo", "Sara", "Ben", "Nora", "Sam", "Lily", "Max", "Ella", "Jack"]
_ANIMALS = ["cat", "dog", "bird", "fox", "horse", "rabbit", "mouse", "duck", "goat", "bear"]
_ADJ = ["small", "big", "old", "young", "happy", "quiet", "brave", "tired", "red", "green",
        "little", "funny", "kind", "clever"]
_OBJ = ["a ball", "an apple", "a book", "a box", "a hat", "a cake", "a kite", "a letter",
        "some bread", "a cup of tea", "a map", "a small boat", "a song", "a picture"]
_PLACES = ["in the garden", "at the park", "near the river", "in the kitchen", "at school",
           "by the sea", "in the forest", "on the hill", "at the market", "in the old house"]
_TIMES = ["In the morning", "After lunch", "In the evening", "On Sunday", "Later that day",
          "One day", "At night", "Before dinner"]
_VERBS_PAST = ["found", "made", "saw", "took", "gave away", "painted", "carried", "lost",
               "bought", "shared"]
_FEEL = ["happy", "sad", "tired", "hungry", "excited", "calm", "surprised", "sleepy"]
_WEATHER = ["sunny", "cold", "warm", "rainy", "windy", "bright", "grey"]


def _subject(rng):
    r = rng.random()
    if r < 0.4:
        return rng.choice(_NAMES)
    if r < 0.7:
        return "the %s %s" % (rng.choice(_ADJ), rng.choice(_ANIMALS))
    return "the " + rng.choice(_ANIMALS)


def _cap1(s):
    return s[0].upper() + s[1:]


def sentence(rng):
    t = rng.randrange(8)
    s = _subject(rng)
    if t == 0:
        return "%s %s %s %s." % (_cap1(s), rng.choice(_VERBS_PAST), rng.choice(_OBJ), rng.choice(_PLACES))
    if t == 1:
        return "%s, %s %s %s." % (rng.choice(_TIMES), s, rng.choice(_VERBS_PAST), rng.choice(_OBJ))
    if t == 2:
        return "%s was %s." % (_cap1(s), rng.choice(_FEEL))
    if t == 3:
        return "It was a %s day %s." % (rng.choice(_WEATHER), rng.choice(_PLACES))
    if t == 4:
        return "%s and %s played %s." % (rng.choice(_NAMES), rng.choice(_NAMES), rng.choice(_PLACES))
    if t == 5:
        return "%s had %d %ss." % (_cap1(s), rng.randrange(2, 10), rng.choice(_ANIMALS))
    if t == 6:
        return "%s said that %s was %s." % (rng.choice(_NAMES), s, rng.choice(_ADJ))
    return "%s went home %s." % (_cap1(s), rng.choice(["slowly", "quickly", "early", "late", "together"]))


def statement(rng, country, capital):
    t = rng.randrange(5)
    if t == 0:
        return "The capital of %s is %s." % (country, capital)
    if t == 1:
        return "%s is the capital of %s." % (capital, country)
    if t == 2:
        return "%s has its capital in %s." % (country, capital)
    if t == 3:
        return "In %s, the capital city is %s." % (country, capital)
    return "%s, the capital of %s, is a %s city." % (capital, country, rng.choice(_ADJ))


def paragraph(rng, countries):
    out = []
    for _ in range(rng.randrange(3, 8)):
        if countries and rng.random() < 0.25:
            out.append(statement(rng, *rng.choice(countries)))
        else:
            out.append(sentence(rng))
    return " ".join(out)


def text_doc(rng, countries):
    return "\n\n".join(paragraph(rng, countries) for _ in range(rng.randrange(1, 4)))


# ---------------------------------------------------------------- splits

class Data:
    """Fixed splits from one seed; epoch() draws the training conversations of one epoch."""

    def __init__(self, seed=1234):
        rng = random.Random(seed)
        pairs = [(a, b) for a in range(100) for b in range(100)]
        rng.shuffle(pairs)
        self.add_held = sorted(pairs[:500])  # 5%
        self.add_train = sorted(pairs[500:])
        counts = [(a, n) for a in range(100) for n in range(3, 9)]
        rng.shuffle(counts)
        self.count_held = sorted(counts[:30])  # 5%
        self.count_train = sorted(counts[30:])
        self.rev_held = set()
        while len(self.rev_held) < 200:
            self.rev_held.add(self._letters(rng))
        self.rev_held = sorted(self.rev_held)
        self.countries = make_countries(rng, 60)
        self.cap_held = self.countries[:12]  # QA never trained; statements are
        self.cap_train = self.countries[12:]
        self.seed = seed

    @staticmethod
    def _letters(rng):
        return tuple(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(3, 7)))

    def heldout(self):
        """kind -> list of {prompt, answer}. `capital_recall` asks trained facts (recall, not
        generalization)."""
        out = {
            "add": [add_qa(a, b) for a, b in self.add_held],
            "count": [count_qa(a, n) for a, n in self.count_held],
            "reverse": [reverse_qa(l) for l in self.rev_held],
            "capital": [capital_qa(c, k) for c, k in self.cap_held],
            "capital_recall": [capital_qa(c, k) for c, k in self.cap_train],
        }
        return {k: [{"prompt": q, "answer": a} for q, a in v] for k, v in out.items()}

    def heldout_text(self, n_docs=60):
        rng = random.Random(self.seed + 7)
        return "\n\n".join(text_doc(rng, self.countries) for _ in range(n_docs)) + "\n"

    def epoch(self, ep):
        """-> (chats, docs). chats: list of (system, [(question, answer), ...], double_bos);
        docs: list of plain texts."""
        rng = random.Random(self.seed * 1000 + ep)
        qa = [add_qa(a, b) for a, b in self.add_train]
        qa += [count_qa(a, n) for a, n in self.count_train] * 2
        held = set(self.rev_held)
        for _ in range(4000):
            l = self._letters(rng)
            if l not in held:
                qa.append(reverse_qa(l))
        qa += [capital_qa(c, k) for c, k in self.cap_train] * 16
        rng.shuffle(qa)
        chats = []
        i = 0
        while i < len(qa):
            n = 2 if rng.random() < 0.1 else 1  # some two-turn conversations
            system = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.05 else None
            chats.append((system, qa[i:i + n], rng.random() < 0.1))
            i += n
        docs = [text_doc(rng, self.countries) for _ in range(800)]
        return chats, docs
