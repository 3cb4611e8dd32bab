"""How long making a world takes (`make bench`): the facts, questions and ~3 MB corpus of a fresh seed.

The target is a few seconds on the project's 2-core machines, so that a notebook's first cell is quick.
Printed, not asserted: the machines are shared, and a timed unit test fails when a neighbour is busy.

    python scripts/bench_world.py [--seed 3] [--repeat 3]
"""
from __future__ import annotations

import argparse
import time

from minilab.world import World


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3, help="a seed no test caches")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is the one to compare")
    args = parser.parse_args()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        docs = World(args.seed).documents()                 # a fresh World: nothing cached
        times.append(time.perf_counter() - start)
    size_mb = len("<|endoftext|>".join(docs).encode()) / 1e6
    print(f"world seed {args.seed}: {len(docs)} documents, {size_mb:.2f} MB; "
          f"best {min(times):.2f} s of {args.repeat} (all: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
