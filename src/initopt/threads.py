"""How many CPU threads torch gets: a number the user gives, or one that holds up when cores are shared.

PyTorch's default is one thread per core. On a machine where another program keeps a core busy,
every parallel region of torch then waits at its barrier for the thread that shares a core with the
other program: measured on the project's 2-core machine, the default study took 4x its idle time
beside one CPU-bound process and 9x beside two, against 1.3x and 2.8x with one thread.
``auto`` counts the cores other programs are using right now (the runnable tasks of
``/proc/loadavg``, sampled a few times) and gives torch the rest, at least one.
"""

from __future__ import annotations

import os
import statistics
import time

AUTO = "auto"
SAMPLES = 5
SAMPLE_SECONDS = 0.01


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def busy_cores() -> int:
    """Cores kept busy by other programs now: the runnable tasks but this process's own threads (torch's
    may still spin after a parallel region), the median of a few samples 10 ms apart (0 where
    ``/proc/loadavg`` does not exist)."""
    counts = []
    for i in range(SAMPLES):
        try:
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0
        counts.append(max(running - _own_running(), 0))
        if i + 1 < SAMPLES:
            time.sleep(SAMPLE_SECONDS)
    return int(statistics.median(counts))


def _own_running() -> int:
    """This process's threads that are runnable now (at least the one asking)."""
    count = 0
    try:
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat") as f:
                    count += f.read().rpartition(")")[2].split()[0] == "R"
            except OSError:  # the thread ended meanwhile
                continue
    except OSError:
        return 1
    return max(count, 1)


def auto_threads() -> int:
    """The free cores now, at least one."""
    return max(1, cores() - busy_cores())


def parse_threads(value: object, field: str = "--threads") -> int | str:
    """``value`` as a thread setting: a whole number >= 1 or ``"auto"``; ValueError naming ``field``."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == AUTO:
            return AUTO
        if text.isdigit() and int(text) >= 1:
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"{field}: expected a whole number >= 1 or 'auto', got {value!r}")


def apply(setting: int | str | None) -> int:
    """Give torch ``setting`` threads (``auto``: ``auto_threads()``; None: leave torch as it is)."""
    import torch

    if setting is None:
        return torch.get_num_threads()
    n = auto_threads() if setting == AUTO else int(setting)
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n


def default_setting() -> int | str:
    """What a command uses without ``--threads``: ``OMP_NUM_THREADS`` when the user set it, else auto."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) >= 1:
        return int(given)
    return AUTO
