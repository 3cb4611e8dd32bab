"""Checkpoints: how the stages hand models to each other.

A checkpoint is a directory of three files:

    model.safetensors   the weights (safetensors: plain tensors, no pickle, so loading
                        a checkpoint can never run code); extra heads (reward head,
                        value head) are stored beside them under the prefix "extra."
    config.json         {"kind": ..., "model": GPTConfig, "meta": {...}}: the shape of
                        the model, and what made it (metrics, command, git commit, ...)
    tokenizer.json      the tokenizer (tokenizer.save / load_tokenizer)

`save_checkpoint` writes into a temporary directory next to the target and renames it
into place when complete, so a crash never leaves half a checkpoint and an existing
checkpoint is replaced only by a complete new one.

`load_checkpoint("sft-nano")` finds the bundled checkpoints in `<repo>/data/checkpoints`
(or `$MINILAB_DATA/checkpoints`); a path loads from anywhere.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from minilab.config import GPTConfig
from minilab.model import GPT

WEIGHTS, CONFIG, TOKENIZER = "model.safetensors", "config.json", "tokenizer.json"
EXTRA = "extra."  # prefix of the extra tensors (heads) in model.safetensors


def data_dir() -> Path:
    """The data directory: $MINILAB_DATA if set, else `data/` next to the package."""
    return Path(os.environ.get("MINILAB_DATA") or Path(__file__).resolve().parent.parent / "data")


def bundled_checkpoints() -> list[str]:
    """Names of the checkpoints under data/checkpoints (e.g. "sft-nano")."""
    root = data_dir() / "checkpoints"
    return sorted(p.name for p in root.iterdir() if (p / CONFIG).is_file()) if root.is_dir() else []


def git_commit() -> str | None:
    """The current git commit of the repository ("<sha>-dirty" when the working tree has
    uncommitted changes), or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return (out.stdout.strip() or None) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def save_checkpoint(path_dir, model: GPT, tokenizer, meta: dict | None = None, extra_tensors: dict | None = None) -> Path:
    """Write model + tokenizer + meta to the directory `path_dir`, atomically.

    meta: anything JSON can hold (stage, metrics, command, git commit, ...); meta["kind"]
    (default "gpt") names what the weights are. extra_tensors: named tensors saved beside
    the weights (e.g. a reward head); load_checkpoint returns them in meta["extra_tensors"]."""
    target = Path(path_dir).resolve()
    meta = {k: v for k, v in (meta or {}).items() if k != "extra_tensors"}
    config = {"kind": meta.get("kind", "gpt"), "model": model.config.to_dict(), "meta": meta}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for name, tensor in (extra_tensors or {}).items():
        tensors[EXTRA + name] = tensor.detach().cpu().contiguous()
    config_text = json.dumps(config, indent=2)  # fails here, before touching the disk, if meta is not JSON

    # 1. write everything into a temporary directory beside the target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    old = None
    try:
        save_file(tensors, str(tmp / WEIGHTS))
        (tmp / CONFIG).write_text(config_text, encoding="utf-8")
        tokenizer.save(tmp / TOKENIZER)
        # 2. swap it into place: the old checkpoint moves aside, the new one takes its name
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not target.exists():
            os.replace(old / target.name, target)  # put the old checkpoint back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return target


def resolve(name_or_path) -> Path:
    """A checkpoint directory from a path or a bundled name, with an error that says what exists."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    bundled = data_dir() / "checkpoints" / str(name_or_path)
    if os.sep not in str(name_or_path) and bundled.is_dir():
        return bundled
    names = bundled_checkpoints()
    raise FileNotFoundError(
        f"no checkpoint at {path.resolve()} and no bundled checkpoint named {str(name_or_path)!r} in "
        f"{data_dir() / 'checkpoints'}; bundled: {', '.join(names) if names else 'none (build them with `minilab checkpoints`)'}"
    )


def load_checkpoint(name_or_path) -> tuple[GPT, object, dict]:
    """(model, tokenizer, meta) from a checkpoint directory or a bundled name like "sft-nano".
    The model is in eval mode; meta["extra_tensors"] holds the extra tensors, if any."""
    from minilab.tokenizer import load_tokenizer

    root = resolve(name_or_path)
    for name in (CONFIG, WEIGHTS, TOKENIZER):
        if not (root / name).is_file():
            raise FileNotFoundError(f"incomplete checkpoint: {root / name} is missing")

    # 1. config
    try:
        config = json.loads((root / CONFIG).read_text(encoding="utf-8"))
        gpt_config = GPTConfig.from_dict(config["model"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{root / CONFIG}: not a valid minilab checkpoint config ({type(e).__name__}: {e})") from e

    # 2. weights: every tensor the model expects, with its shape
    try:
        tensors = load_file(str(root / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{root / WEIGHTS}: cannot read the weights, the file is corrupt or not safetensors ({e})") from e
    model = GPT(gpt_config)
    expected = model.state_dict()
    weights = {k: v for k, v in tensors.items() if not k.startswith(EXTRA)}
    missing, unexpected = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    wrong = [f"{k}: file {tuple(weights[k].shape)} vs config {tuple(expected[k].shape)}"
             for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise ValueError(f"{root / WEIGHTS} does not match {root / CONFIG}: "
                         + "; ".join(filter(None, [f"missing {missing}" if missing else "",
                                                   f"unexpected {unexpected}" if unexpected else "",
                                                   "wrong shapes " + ", ".join(wrong) if wrong else ""])))
    model.load_state_dict(weights)
    model.eval()

    # 3. tokenizer, which must fit the embedding table
    tokenizer = load_tokenizer(root / TOKENIZER)
    if tokenizer.vocab_size != gpt_config.vocab_size:
        raise ValueError(f"{root / TOKENIZER} has {tokenizer.vocab_size} tokens but {root / CONFIG} says "
                         f"vocab_size={gpt_config.vocab_size}")

    meta = dict(config.get("meta", {}), kind=config.get("kind", "gpt"))
    extra = {k[len(EXTRA):]: v for k, v in tensors.items() if k.startswith(EXTRA)}
    if extra:
        meta["extra_tensors"] = extra
    return model, tokenizer, meta
