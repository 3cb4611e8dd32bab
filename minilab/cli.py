"""The `minilab` command: one subcommand per stage, each implemented by its module's `main(argv)`.

A subcommand's bad input (a ValueError, or a file missing, in the way or not writable) ends with one line,
`minilab <command>: <message>`, and exit status 2, as argparse's own errors do; Ctrl-C ends
with one line and status 130. Anything else is a bug and keeps its traceback.

    minilab pretrain --size micro --max-iters 2000 --json
    minilab pipeline --size nano --seed 0
    minilab checkpoints            # list the bundled checkpoints under data/ (--rebuild: train them again)
    minilab report notebooks/07_ppo.ipynb --sweep beta=0.02,0.2
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "pretrain": ("minilab.pretrain", "pretrain a tiny GPT on the world corpus or a text file"),
    "pipeline": ("minilab.pipeline", "world -> tokenizer -> pretrain -> SFT -> reward model -> PPO, with a report card"),
    "checkpoints": ("minilab.bundle", "list the bundled checkpoints under data/checkpoints (--rebuild: train them)"),
    "report": ("minilab.report", "run notebooks through papermill and write an HTML report"),
}


def usage() -> str:
    lines = ["usage: minilab COMMAND [options]   (minilab COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"minilab: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return module.main(rest) or 0
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as e:  # bad input (UnicodeDecodeError is a ValueError)
        message = " ".join(str(e).splitlines())
        print(f"minilab {name}: {message}", file=sys.stderr)
        return 2
    except FloatingPointError as e:          # optim.TrainingDiverged: the loss became inf/NaN; its line says what to try
        print(f"minilab {name}: {' '.join(str(e).splitlines())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"minilab {name}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130  # 128 + SIGINT, what a shell reports for a process stopped by Ctrl-C


if __name__ == "__main__":
    sys.exit(main())
