"""Benchmark: one PPO iteration at nano size (64 prompts, 32 new tokens, 4 epochs), and the whole
pipeline from scratch. Reports seconds per iteration and where the time goes (rollout, scoring,
update). Run: `make bench` or `.venv/bin/python scripts/bench_ppo.py [--pipeline]`.

Numbers on a shared machine are noisy: read the split between stages, and compare runs made
back to back on the same machine.
"""
import argparse
import json
import statistics
import time

import torch

from minilab.pipeline import run_ppo


def bench_ppo(size: str = "nano", iters: int = 6) -> dict:
    _, _, history = run_ppo(size=size, iters=iters, batch_size=64, max_new_tokens=32, epochs=4, progress=False)
    rows = list(zip(history["t_rollout"], history["t_score"], history["t_update"]))[1:]   # skip warm-up
    med = {name: statistics.median(r[i] for r in rows) for i, name in enumerate(("rollout", "score", "update"))}
    total = sum(med.values())
    return {"size": size, "s_per_iter": round(total, 3), **{f"{k}_s": round(v, 3) for k, v in med.items()},
            **{f"{k}_share": round(v / total, 2) for k, v in med.items()}, "threads": torch.get_num_threads()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="nano")
    parser.add_argument("--pipeline", action="store_true", help="also time the whole pipeline from scratch")
    args = parser.parse_args()
    result = bench_ppo(args.size)
    print(f"PPO iteration at {args.size}: {result['s_per_iter']:.2f} s "
          f"(rollout {result['rollout_s']:.2f}, score {result['score_s']:.2f}, update {result['update_s']:.2f})")
    if args.pipeline:
        from minilab.pipeline import run_pipeline
        t = time.perf_counter()
        card = run_pipeline("nano", 0, progress=False)
        result["pipeline_wall_s"] = round(time.perf_counter() - t, 1)
        result["pipeline_seconds"] = card["seconds"]
        print(f"whole pipeline at nano from scratch: {result['pipeline_wall_s']} s {card['seconds']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
