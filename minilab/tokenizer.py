"""Tokenizers: byte-level BPE (GPT-2/GPT-4 style), a character tokenizer, and the chat format.

A tokenizer turns text into integer ids and back. `BPETokenizer` is byte-level byte-pair
encoding (BPE):

1. Split the text into chunks with GPT-4's regular expression (tiktoken's `cl100k_base`):
   a word with its leading space, up to 3 digits, a run of punctuation, whitespace.
   Merges never cross a chunk boundary, so " dog" and " dog." share the token " dog".
2. A chunk is a sequence of UTF-8 bytes. The 256 byte values are ids 0..255, so every
   string can be encoded: there is no "unknown" token.
3. Training counts adjacent pairs of ids, merges the most frequent pair into a new id
   (256, 257, ...), records the merge, and repeats until the vocabulary is full.
4. Encoding replays the merges inside each chunk, earliest-learned merge first.

Design choices
--------------
- Two encoders over the same merges: `encode_slow`, plain Python to read and step through,
  and `encode`, OpenAI's tiktoken (Rust) built from *our* ranks. Tests check they agree.
- Text that is not valid Unicode (a lone surrogate, e.g. half an emoji from a JSON escape)
  is encoded as U+FFFD by both, as tiktoken does, rather than refused: "every string can
  be encoded" stays true, and decode already turns broken bytes into U+FFFD.
- tiktoken knows no pairs, only byte strings: it merges the adjacent pair whose
  concatenated bytes is the lowest-ranked token. Two merges could make the same bytes
  (" t"+"he" and " th"+"e" both make " the"), so training gives a pair whose bytes already
  are a token that token's id (an *alias*, no new id), and `encode_slow` applies the same
  rule (one merge at a time, lowest rank, leftmost), so the two encoders agree exactly.
  minbpe instead looks merges up by pair; the two rules differ only around aliases.
- Training counts each distinct chunk once, with its frequency, and after a merge updates
  only the chunks that contain the pair: 2 MB train in seconds (Sennrich et al. do the same).
- Special tokens (<|user|>, <|end|>, ...) are never learned: training text is cut at them,
  and they take the ids after the merges. `encode` turns their strings into their ids, but
  chat content is encoded with `allowed_special="none"`, so a user cannot forge the template.

References: Sennrich, Haddow & Birch (2016), "Neural Machine Translation of Rare Words with
Subword Units" (BPE); Radford et al. (2019), GPT-2 (byte-level BPE, the split regex);
Karpathy's minbpe (github.com/karpathy/minbpe), whose loops this module follows;
OpenAI's tiktoken (github.com/openai/tiktoken) for the fast encoder and the cl100k regex.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections import Counter, defaultdict
from typing import Iterable, NamedTuple

import regex  # like `re`, plus \p{L} (any letter) and \p{N} (any digit); a tiktoken dependency
import tiktoken

from minilab.config import SPECIAL_TOKENS, VOCAB_SIZE

# GPT-4's split pattern (tiktoken's cl100k_base): contractions ('s 'll ...), a word with at most
# one leading non-letter (" dog"), 1-3 digits, punctuation runs, line breaks, other whitespace.
SPLIT_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
                 r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
_SPLIT = regex.compile(SPLIT_PATTERN)


def split_chunks(text: str) -> list[str]:
    """Pre-tokenization: the chunks BPE merges within, e.g. "Hi you!" -> ["Hi", " you", "!"]."""
    return _SPLIT.findall(text)


def valid_unicode(text: str) -> str:
    """Text that UTF-8 can encode, by tiktoken's rule: a surrogate pair written as two code points
    ("\\ud83d\\ude00") becomes its character; a lone surrogate (half an emoji, as a JSON escape
    "\\ud83d" can give) becomes U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids` (left to right) by `new_id`."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _cut_at(text: str, names: Iterable[str]) -> list[str]:
    """Split text at the special-token strings `names`, keeping them: "a<|end|>b" -> ["a", "<|end|>", "b"]."""
    names = sorted(names, key=len, reverse=True)  # longest first, should one be a prefix of another
    if not names:
        return [text]
    return regex.split("(" + "|".join(regex.escape(n) for n in names) + ")", text)


class Tokenizer:
    """What every tokenizer shares: special tokens, decoding, saving. Subclasses fill in the rest."""

    special_tokens: dict[str, int]  # name -> id, e.g. {"<|endoftext|>": 256+merges, ...}

    def token_bytes(self, id: int) -> bytes:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    def special_id(self, name: str) -> int:
        if name not in self.special_tokens:
            raise KeyError(f"unknown special token {name!r}; this tokenizer knows: {', '.join(self.special_tokens)}")
        return self.special_tokens[name]

    def _allowed(self, allowed_special) -> set[str]:
        """allowed_special: "all", "none", or a collection of special-token names."""
        if allowed_special == "all":
            return set(self.special_tokens)
        if allowed_special == "none" or not allowed_special:
            return set()
        if isinstance(allowed_special, str):
            raise ValueError(f'allowed_special must be "all", "none" or a set of names, got {allowed_special!r}')
        for name in allowed_special:
            self.special_id(name)  # a clear KeyError for an unknown name
        return set(allowed_special)

    def _segments(self, text: str, allowed_special) -> list[str | int]:
        """Text cut at the allowed special tokens: plain-text pieces (str) and special ids (int)."""
        allowed = self._allowed(allowed_special)
        return [self.special_tokens[p] if p in allowed else p for p in _cut_at(text, allowed) if p]

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> text. Bytes that are not valid UTF-8 (half a character) become U+FFFD."""
        return b"".join(self.token_bytes(int(i)) for i in ids).decode("utf-8", errors="replace")

    def _special_bytes(self, id: int) -> bytes:
        for name, special in self.special_tokens.items():
            if special == id:
                return name.encode("utf-8")
        raise ValueError(f"token id {id} is out of range: this tokenizer has ids 0..{self.vocab_size - 1}")

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON, atomically: a crash never leaves half a file."""
        path = os.path.abspath(os.fspath(path))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f)
            os.replace(tmp, path)  # atomic on POSIX and Windows
        except BaseException:
            os.unlink(tmp)
            raise


class Merge(NamedTuple):
    """One training step, for notebook 01: `left` + `right` became token `id`, seen `count` times."""
    left: bytes
    right: bytes
    id: int
    count: int


class BPETokenizer(Tokenizer):
    """Byte-level BPE. ids 0..255 are bytes, then one id per learned merge, then special tokens."""

    def __init__(self, merges: dict[tuple[int, int], int], special_tokens: list[str] = SPECIAL_TOKENS,
                 history: list[Merge] | None = None):
        self.merges = dict(merges)                          # (id, id) -> id, in the order learned
        self.vocab = [bytes([b]) for b in range(256)]       # id -> the bytes it stands for
        self.ranks = {t: i for i, t in enumerate(self.vocab)}  # bytes -> id (tiktoken's "mergeable ranks")
        for (a, b), new_id in self.merges.items():
            if not (0 <= a < len(self.vocab) and 0 <= b < len(self.vocab)):
                raise ValueError(f"merge ({a}, {b}) -> {new_id} uses an id that is not yet defined")
            token = self.vocab[a] + self.vocab[b]
            if new_id == len(self.vocab) and token not in self.ranks:
                self.vocab.append(token)
                self.ranks[token] = new_id
            elif self.ranks.get(token) != new_id:
                raise ValueError(f"merge ({a}, {b}) -> {new_id} is inconsistent: its bytes {token!r} "
                                 f"are token {self.ranks.get(token)}; new ids must be consecutive")
        if len(set(special_tokens)) != len(special_tokens):
            raise ValueError(f"special tokens must be distinct, got {special_tokens}")
        self.special_tokens = {name: len(self.vocab) + i for i, name in enumerate(special_tokens)}
        self.history = list(history or [])                  # Merge records, for notebook 01
        self._fast = None                                   # the tiktoken encoder, built on first use

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    @classmethod
    def train(cls, text: str, vocab_size: int = VOCAB_SIZE, special_tokens: list[str] = SPECIAL_TOKENS,
              verbose: bool = False, max_chars: int | None = None) -> "BPETokenizer":
        """Learn vocab_size - 256 - len(special_tokens) merges from `text` (its first max_chars chars)."""
        special_tokens = list(special_tokens)
        minimum = 256 + len(special_tokens)
        if vocab_size < minimum:
            raise ValueError(f"vocab_size={vocab_size} is too small: the minimum is {minimum} "
                             f"(256 byte tokens + {len(special_tokens)} special tokens)")
        text = text if max_chars is None else text[:max_chars]
        if not text:
            raise ValueError("cannot train a tokenizer on empty text")

        # 1. Split into chunks (special tokens are boundaries, never learned) and count each distinct chunk.
        chunk_counts = Counter()
        for piece in _cut_at(text, special_tokens):
            if piece not in special_tokens:
                chunk_counts.update(split_chunks(piece))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]  # each distinct chunk as ids
        freqs = list(chunk_counts.values())                              # how often it occurs

        # 2. Count adjacent pairs, weighted by chunk frequency; remember which chunks hold each pair.
        pair_counts, where = Counter(), defaultdict(set)
        for w, ids in enumerate(words):
            for pair in zip(ids, ids[1:]):
                pair_counts[pair] += freqs[w]
                where[pair].add(w)

        vocab = [bytes([b]) for b in range(256)]
        ranks = {t: i for i, t in enumerate(vocab)}
        merges, history = {}, []
        n_tokens = vocab_size - len(special_tokens)
        while len(vocab) < n_tokens and pair_counts:
            # 3. The most frequent pair becomes a token. If its bytes already are a token (made from
            #    another pair), it reuses that id: tiktoken looks tokens up by their bytes.
            pair = max(pair_counts, key=pair_counts.get)
            token = vocab[pair[0]] + vocab[pair[1]]
            new_id = ranks.setdefault(token, len(vocab))
            if new_id == len(vocab):
                vocab.append(token)
            merges[pair] = new_id
            history.append(Merge(vocab[pair[0]], vocab[pair[1]], new_id, pair_counts[pair]))
            if verbose:
                print(f"merge {len(history):4d}: {vocab[pair[0]]!r} + {vocab[pair[1]]!r} -> {new_id} "
                      f"{token!r} ({pair_counts[pair]} times)")

            # 4. Merge the pair in every chunk that holds it, and update the counts of its pairs.
            touched = set()
            for w in where.pop(pair):
                old, new = words[w], merge(words[w], pair, new_id)
                for p in zip(old, old[1:]):
                    pair_counts[p] -= freqs[w]
                    touched.add(p)
                for p in zip(new, new[1:]):
                    pair_counts[p] += freqs[w]
                    where[p].add(w)
                words[w] = new
            for p in touched:
                if pair_counts[p] == 0:
                    del pair_counts[p]  # no longer occurs anywhere

        if len(vocab) < n_tokens:
            warnings.warn(f"the text is too small for vocab_size={vocab_size}: every chunk became a single "
                          f"token after {len(vocab) - 256} merges, so vocab_size is {len(vocab) + len(special_tokens)}")
        return cls(merges, special_tokens, history)

    # ---- encoding -------------------------------------------------------------------------------

    def encode_slow(self, text: str, allowed_special="all") -> list[int]:
        """Readable encoder: cut at special tokens, split into chunks, merge within each chunk."""
        ids = []
        for segment in self._segments(valid_unicode(text), allowed_special):
            if isinstance(segment, int):  # a special token
                ids.append(segment)
                continue
            for chunk in split_chunks(segment):
                ids.extend(self.bpe(chunk.encode("utf-8")))
        return ids

    def bpe(self, chunk: bytes) -> list[int]:
        """Merge the bytes of one chunk until no adjacent pair makes a token.

        Each step merges the pair whose bytes make the lowest-ranked (earliest learned)
        token, leftmost on a tie; exactly tiktoken's rule (see the module docstring)."""
        ids = list(chunk)
        while len(ids) >= 2:
            pair_ranks = [self.ranks.get(self.vocab[a] + self.vocab[b]) for a, b in zip(ids, ids[1:])]
            candidates = [(rank, i) for i, rank in enumerate(pair_ranks) if rank is not None]
            if not candidates:
                break  # nothing left to merge
            rank, i = min(candidates)
            ids[i:i + 2] = [rank]
        return ids

    @property
    def tiktoken_encoding(self) -> tiktoken.Encoding:
        """Our merges as a tiktoken Encoding: same ranks, same regex, same special tokens."""
        if self._fast is None:
            self._fast = tiktoken.Encoding(name="minilab-bpe", pat_str=SPLIT_PATTERN,
                                           mergeable_ranks=self.ranks, special_tokens=self.special_tokens)
        return self._fast

    def encode(self, text: str, allowed_special="all") -> list[int]:
        """Fast encoder (tiktoken), same ids as encode_slow. allowed_special: "all", "none"
        (special-token strings stay plain text) or a set of names."""
        return self.tiktoken_encoding.encode(text, allowed_special=self._allowed(allowed_special),
                                             disallowed_special=())

    def token_bytes(self, id: int) -> bytes:
        return self.vocab[id] if 0 <= id < len(self.vocab) else self._special_bytes(id)

    # ---- saving ---------------------------------------------------------------------------------

    def __getstate__(self):  # pickle/deepcopy without the tiktoken object; it is rebuilt on use
        return {**self.__dict__, "_fast": None}

    def to_dict(self) -> dict:
        counts = {(m.id, m.left, m.right): m.count for m in self.history}
        return {"type": "bpe", "pattern": SPLIT_PATTERN, "special_tokens": list(self.special_tokens),
                "merges": [[a, b, new_id, counts.get((new_id, self.vocab[a], self.vocab[b]), 0)]
                           for (a, b), new_id in self.merges.items()]}

    @classmethod
    def from_dict(cls, d: dict) -> "BPETokenizer":
        if d["pattern"] != SPLIT_PATTERN:
            raise ValueError("the file was saved with a different split pattern")
        merges = {(a, b): new_id for a, b, new_id, _ in d["merges"]}
        tok = cls(merges, d["special_tokens"])
        tok.history = [Merge(tok.vocab[a], tok.vocab[b], new_id, count) for a, b, new_id, count in d["merges"]]
        return tok


class CharTokenizer(Tokenizer):
    """One id per character (the classic tiny-Shakespeare demo): the training text's distinct
    characters, sorted, are ids 0..n-1; the special tokens follow."""

    def __init__(self, chars: Iterable[str], special_tokens: list[str] = SPECIAL_TOKENS):
        self.chars = list(chars)
        if any(len(c) != 1 for c in self.chars) or len(set(self.chars)) != len(self.chars):
            raise ValueError("chars must be distinct single characters")
        if len(set(special_tokens)) != len(special_tokens):
            raise ValueError(f"special tokens must be distinct, got {special_tokens}")
        self.char_to_id = {c: i for i, c in enumerate(self.chars)}
        self.special_tokens = {name: len(self.chars) + i for i, name in enumerate(special_tokens)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + len(self.special_tokens)

    @classmethod
    def train(cls, text: str, special_tokens: list[str] = SPECIAL_TOKENS, max_chars: int | None = None) -> "CharTokenizer":
        text = text if max_chars is None else text[:max_chars]
        pieces = [p for p in _cut_at(text, special_tokens) if p not in special_tokens]
        chars = sorted(set("".join(pieces)))
        if not chars:
            raise ValueError("cannot train a tokenizer on empty text")
        return cls(chars, list(special_tokens))

    def encode(self, text: str, allowed_special="all") -> list[int]:
        ids = []
        for segment in self._segments(text, allowed_special):
            if isinstance(segment, int):
                ids.append(segment)
                continue
            for ch in segment:
                if ch not in self.char_to_id:
                    raise ValueError(f"character {ch!r} (U+{ord(ch):04X}) is not in this CharTokenizer's "
                                     f"vocabulary of {len(self.chars)} characters (it was not in the training text)")
                ids.append(self.char_to_id[ch])
        return ids

    encode_slow = encode  # one encoder is both readable and fast here

    def token_bytes(self, id: int) -> bytes:
        return self.chars[id].encode("utf-8") if 0 <= id < len(self.chars) else self._special_bytes(id)

    def to_dict(self) -> dict:
        return {"type": "char", "chars": self.chars, "special_tokens": list(self.special_tokens)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        return cls(d["chars"], d["special_tokens"])


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer from `tok.to_dict()` (what `save` writes)."""
    kinds = {"bpe": BPETokenizer, "char": CharTokenizer}
    kind = d.get("type") if isinstance(d, dict) else None
    if kind not in kinds:
        raise ValueError(f"unknown tokenizer type {kind!r}; expected one of {sorted(kinds)}")
    return kinds[kind].from_dict(d)


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a tokenizer written by `tok.save(path)`."""
    with open(path, encoding="utf-8") as f:
        try:
            return tokenizer_from_dict(json.load(f))
        except (ValueError, KeyError, TypeError, IndexError) as e:  # JSONDecodeError is a ValueError
            raise ValueError(f"{os.fspath(path)}: not a valid minilab tokenizer file ({type(e).__name__}: {e})") from e


# ---- the chat format --------------------------------------------------------------------------
#   <|user|>What is the capital of Norland?<|end|><|assistant|>Velm.<|end|>
#   mask:  0 .................................0   0            1 .. 1  1

ROLES = ("user", "assistant")


def _role_ids(tok: Tokenizer) -> dict[str, int]:
    missing = [f"<|{r}|>" for r in ROLES + ("end",) if f"<|{r}|>" not in tok.special_tokens]
    if missing:
        raise ValueError(f"the chat format needs the special tokens {missing}, which this tokenizer lacks")
    return {r: tok.special_tokens[f"<|{r}|>"] for r in ROLES}


def render_conversation(tok: Tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    """Token ids of a conversation, and the loss mask: mask[i] = 1 where ids[i] is a token the
    model must learn to produce (assistant content and the assistant's closing <|end|>)."""
    role_ids, end = _role_ids(tok), tok.special_id("<|end|>")
    ids, mask = [], []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            raise ValueError(f"message {i}: role {role!r} is not allowed; allowed roles: {', '.join(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise ValueError(f"message {i}: content must be a str, got {type(message.get('content')).__name__}")
        content = tok.encode(message["content"], allowed_special="none")  # "<|end|>" typed by a user stays text
        learn = int(role == "assistant")
        ids += [role_ids[role], *content, end]
        mask += [0] + [learn] * len(content) + [learn]
    return ids, mask


def render_prompt(tok: Tokenizer, user_text: str) -> list[int]:
    """The ids a model continues to answer: "<|user|>{user_text}<|end|><|assistant|>"."""
    ids, _ = render_conversation(tok, [{"role": "user", "content": user_text}])
    return ids + [tok.special_id("<|assistant|>")]


def encode_reply(tok: Tokenizer, prompt: str, text: str, ended: bool) -> list[int]:
    """A prompt and a reply as a model reads them: rendered prompt + reply (+ <|end|> when the reply
    ended). What a reward model scores and what DPO takes the log-probability of."""
    ids = render_prompt(tok, prompt) + tok.encode(text, allowed_special="none")
    return ids + [tok.special_id("<|end|>")] if ended else ids


def parse_conversation(tok: Tokenizer, ids: Iterable[int]) -> list[dict]:
    """Inverse of render_conversation. A last assistant turn without its <|end|> (a reply cut
    short) is kept as it is; trailing <|pad|> / <|endoftext|> tokens are ignored."""
    role_of = {v: k for k, v in _role_ids(tok).items()}
    end = tok.special_id("<|end|>")
    ids = [int(i) for i in ids]
    while ids and ids[-1] in {tok.special_tokens.get("<|pad|>"), tok.special_tokens.get("<|endoftext|>")}:
        ids.pop()
    messages, i = [], 0
    while i < len(ids):
        if ids[i] not in role_of:
            raise ValueError(f"position {i}: expected a role token (<|user|> or <|assistant|>), "
                             f"found {tok.decode(ids[i:i + 1])!r}")
        role, j = role_of[ids[i]], i + 1
        while j < len(ids) and ids[j] != end:
            j += 1
        if j == len(ids) and role != "assistant":
            raise ValueError(f"position {i}: the {role} turn is not closed by <|end|>")
        messages.append({"role": role, "content": tok.decode(ids[i + 1:j])})
        i = j + 1
    return messages
