"""peak_memory: the peak of what a call allocated, from torch's profiler."""
import torch

from minilab.memory import peak_memory

MB = 2**20


def test_peak_memory_is_the_largest_total_held_at_once_not_the_sum_of_allocations():
    def work():
        big = torch.ones(10 * MB // 4)          # 10 MB of float32
        del big
        small = torch.ones(2 * MB // 4)         # 2 MB, allocated after the 10 MB were freed
        return small.sum().item()

    result, peak = peak_memory(work)
    assert result == 2 * MB // 4
    assert peak is not None and 10 * MB <= peak < 11 * MB, f"peak {peak / MB:.2f} MB"


def test_peak_memory_counts_what_is_held_together():
    def work():
        a, b = torch.ones(4 * MB // 4), torch.ones(4 * MB // 4)
        return (a + b).shape                   # a, b and their sum: 12 MB at once

    _, peak = peak_memory(work)
    assert 12 * MB <= peak < 13 * MB, f"peak {peak / MB:.2f} MB"


def test_memory_held_before_the_call_is_not_counted():
    held = torch.ones(20 * MB // 4)
    _, peak = peak_memory(lambda: held.mul_(2))   # in place: no new memory
    assert peak is None or peak < MB


def test_the_profilers_own_start_and_stop_lines_do_not_reach_stderr(capfd):
    peak_memory(lambda: torch.ones(1000).sum())
    assert "profiler_st" not in capfd.readouterr().err
