"""One torch thread or two? The notebooks' training loops timed at both, alternately, in one process.

    python scripts/bench_threads.py [--repeats 3]

For each workload it alternates 1 and 2 threads (1, 2, 1, 2, ...) and reports the median seconds
and the speed-up of 2 threads. Workloads, as the notebooks run them:
- pretraining steps: nano and micro (batch 32, block 128; notebooks 03 and 04), and nanoGPT's
  CPU shape (4 x 128, batch 12, block 64; scripts/bench_pretrain.py);
- a PPO iteration at nano with 64 prompts and a linear value head (the shape of notebook 09's
  runs; scored by rm-nano instead of 09's rule);
- a PPO iteration of the RLHF recipe (notebook 07: 256 prompts, rm-micro as judge and critic).
Run it on a quiet machine; the tests pin one thread per worker for another reason (two workers
share two cores), which says nothing about a student's laptop.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from minilab.config import VOCAB_SIZE, GPTConfig, size_config
from minilab.model import GPT
from minilab.optim import make_optimizer
from minilab.pretrain import PretrainConfig


def pretrain_steps(config: GPTConfig, batch: int, block: int, steps: int = 20):
    model = GPT(config)
    opt = make_optimizer(model, PretrainConfig(vocab_size=config.vocab_size))
    x = torch.randint(0, config.vocab_size, (batch, block))

    def run():
        for _ in range(steps):
            loss = F.cross_entropy(model(x).flatten(0, 1), x.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return run


def ppo_iterations(iters: int = 2, **knobs):
    from minilab.pipeline import run_ppo

    def run():
        run_ppo(iters=iters, progress=False, **knobs)
    return run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    from minilab.pipeline import RLHF_RECIPE
    workloads = {
        "pretrain nano, 20 steps (32 x 128)": pretrain_steps(size_config("nano", vocab_size=VOCAB_SIZE), 32, 128),
        "pretrain micro, 20 steps (32 x 128)": pretrain_steps(size_config("micro", vocab_size=VOCAB_SIZE), 32, 128),
        "pretrain nanoGPT shape, 50 steps (12 x 64)": pretrain_steps(
            GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128), 12, 64, steps=50),
        "PPO nano, 64 prompts, 2 iterations (09)": ppo_iterations(batch_size=64, minibatches=2),
        "PPO RLHF recipe, 1 iteration (07)": ppo_iterations(iters=1, **RLHF_RECIPE),
    }
    rows = []
    for name, run in workloads.items():
        times = {1: [], 2: []}
        torch.set_num_threads(1)
        run()                                          # warm-up
        for _ in range(args.repeats):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                t = time.perf_counter()
                run()
                times[threads].append(time.perf_counter() - t)
        one, two = statistics.median(times[1]), statistics.median(times[2])
        rows.append({"workload": name, "s_1_thread": round(one, 2), "s_2_threads": round(two, 2),
                     "speedup": round(one / two, 2)})
        print(f"{name:<45} 1 thread {one:6.2f} s   2 threads {two:6.2f} s   speed-up {one / two:.2f}x", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
