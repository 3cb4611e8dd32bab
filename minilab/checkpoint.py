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
checkpoint is replaced only by a complete new one. It replaces only a checkpoint (a
folder of exactly those three files) or an empty folder: a file or any other folder at
the target is the user's, and is kept unless `force=True`. Files get the usual modes
(0644 under umask 022), so a checkpoint in a shared folder is readable by the others.

`load_checkpoint("sft-nano")` finds the bundled checkpoints in `<repo>/data/checkpoints`
(or `$MINILAB_DATA/checkpoints`); a path ("./sft-nano", "~/ckpt", a `Path`) loads from
anywhere. A bare name means the bundled checkpoint even when the current folder holds
one of that name; meta["loaded_from"] says which folder was read.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from minilab.config import GPTConfig
from minilab.model import GPT

WEIGHTS, CONFIG, TOKENIZER = "model.safetensors", "config.json", "tokenizer.json"
EXTRA = "extra."  # prefix of the extra tensors (heads) in model.safetensors
FILES = {CONFIG, TOKENIZER, WEIGHTS}  # what a checkpoint folder holds, and nothing else


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


def check_target(target: Path, force: bool = False) -> None:
    """Refuse (FileExistsError) to replace anything at `target` but a checkpoint or an empty
    folder, unless force: whatever else is there belongs to the user."""
    if force or not target.exists():
        return
    how = "choose another path, or pass force=True (minilab pretrain --force) to replace it"
    if not target.is_dir():
        raise FileExistsError(f"refusing to replace {target}: it is a file, not a checkpoint folder; {how}")
    names = {p.name for p in target.iterdir()}
    if not names or (names == FILES and all((target / name).is_file() for name in FILES)):
        return  # an empty folder or a checkpoint: nothing of the user's to lose
    shown = sorted(names - FILES) or sorted(names)
    shown = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
    raise FileExistsError(f"refusing to replace {target}: it is a folder that is not a minilab checkpoint "
                          f"(it holds {shown}; a checkpoint holds only {', '.join(sorted(FILES))}); {how}")


def check_writable(folder: Path) -> None:
    """Make `folder` and write (then remove) a probe in it, as save_checkpoint will; PermissionError,
    in one line, if that fails. Run it before training, so a refusal costs nothing."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".write-test-"))
    except OSError as e:
        raise PermissionError(f"cannot write checkpoints to {folder} ({e.strerror or e}); "
                              f"choose another folder (nothing was trained)") from None


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def save_checkpoint(path_dir, model: GPT, tokenizer, meta: dict | None = None, extra_tensors: dict | None = None,
                    force: bool = False) -> Path:
    """Write model + tokenizer + meta to the directory `path_dir` ("~" expanded), atomically.

    meta: anything JSON can hold (stage, metrics, command, git commit, ...); meta["kind"]
    (default "gpt") names what the weights are. extra_tensors: named tensors saved beside
    the weights (e.g. a reward head); load_checkpoint returns them in meta["extra_tensors"].
    An existing checkpoint or empty folder at `path_dir` is replaced; anything else only
    with force=True (FileExistsError otherwise)."""
    target = Path(path_dir).expanduser().resolve()
    meta = {k: v for k, v in (meta or {}).items() if k != "extra_tensors"}
    config = {"kind": meta.get("kind", "gpt"), "model": model.config.to_dict(), "meta": meta}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for name, tensor in (extra_tensors or {}).items():
        tensors[EXTRA + name] = tensor.detach().cpu().contiguous()
    config_text = json.dumps(config, indent=2)  # fails here, before touching the disk, if meta is not JSON
    check_target(target, force)

    # 1. write everything into a temporary directory beside the target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    old = None
    try:
        save_file(tensors, str(tmp / WEIGHTS))
        (tmp / CONFIG).write_text(config_text, encoding="utf-8")
        tokenizer.save(tmp / TOKENIZER)
        # mkdtemp and mkstemp make private (0700/0600) entries; give the modes the umask asks for
        mask = _umask()
        for name in FILES:
            os.chmod(tmp / name, 0o666 & ~mask)
        os.chmod(tmp, 0o777 & ~mask)
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


def write_json_atomic(path, obj, **dump_kwargs) -> Path:
    """Write `obj` as JSON to `path`, atomically: a crash leaves the old file, never half a new one."""
    path = Path(path)
    text = json.dumps(obj, **dump_kwargs)     # fails here, before touching the disk, if obj is not JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def checkpoint_digest(name_or_path) -> str:
    """sha256 over a checkpoint folder's files (name order): what a stored run was computed from."""
    h = hashlib.sha256()
    for path in sorted(resolve(name_or_path).iterdir()):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def resolve(name_or_path) -> Path:
    """A checkpoint directory from a bundled name ("sft-nano": no separator, a str) or a path
    ("./sft-nano", "~/ckpt", "/abs/ck", any Path), with an error that says what exists.
    A bare name prefers the bundled checkpoint to a folder of that name in the current one."""
    if name_or_path is None or not str(name_or_path).strip():
        raise ValueError(f"no checkpoint given ({name_or_path!r}): pass a bundled name "
                         f"({', '.join(bundled_checkpoints()) or 'e.g. sft-nano'}) or the path of a checkpoint folder")
    text = os.fspath(name_or_path)
    is_name = (isinstance(name_or_path, str) and not text.startswith("~")
               and not any(sep and sep in text for sep in (os.sep, os.altsep)))
    bundled = data_dir() / "checkpoints" / text
    local = Path(text) if is_name else Path(text).expanduser()
    if is_name and bundled.is_dir():
        if local.is_dir():
            warnings.warn(f"loading the bundled checkpoint {bundled}, not the folder ./{text} here; "
                          f"pass './{text}' to load that one", stacklevel=3)
        return bundled
    if local.is_dir():
        return local
    names = bundled_checkpoints()
    raise FileNotFoundError(
        f"no checkpoint at {local.resolve()}" + (f" and no bundled checkpoint named {text!r} in "
                                                 f"{data_dir() / 'checkpoints'}" if is_name else "")
        + f"; bundled: {', '.join(names) if names else 'none (build them with `minilab checkpoints --rebuild`)'}"
    )


def load_checkpoint(name_or_path) -> tuple[GPT, object, dict]:
    """(model, tokenizer, meta) from a bundled name like "sft-nano" or a checkpoint path (see
    `resolve`). The model is in eval mode; meta["loaded_from"] is the folder read, and
    meta["extra_tensors"] holds the extra tensors, if any."""
    from minilab.tokenizer import load_tokenizer

    root = resolve(name_or_path)
    for name in (CONFIG, WEIGHTS, TOKENIZER):
        if not (root / name).is_file():
            raise FileNotFoundError(f"incomplete checkpoint: {root / name} is missing")

    # 1. config
    try:
        config = json.loads((root / CONFIG).read_text(encoding="utf-8"))
        gpt_config = GPTConfig.from_dict(config["model"])
        trained = (config.get("meta") or {}).get("pretrain_config", {}).get("block_size")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{root / CONFIG}: not a valid minilab checkpoint config ({type(e).__name__}: {e})") from e
    # RoPE has no position table, so the weights cannot tell how long a context they were trained
    # on; the pretrain config in meta can. Past it the model runs, but on positions it never saw.
    if isinstance(trained, int) and trained < gpt_config.block_size:
        warnings.warn(f"{root / CONFIG} claims block_size={gpt_config.block_size}, but the model was pretrained "
                      f"with block_size={trained}: positions past {trained} were never trained", stacklevel=2)

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

    meta = dict(config.get("meta", {}), kind=config.get("kind", "gpt"), loaded_from=str(root.resolve()))
    extra = {k[len(EXTRA):]: v for k, v in tensors.items() if k.startswith(EXTRA)}
    if extra:
        meta["extra_tensors"] = extra
    return model, tokenizer, meta
