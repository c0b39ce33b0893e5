"""Studies on a Ray cluster: two nodes against one, and what dispatching one bundle costs.

Every cluster is local and on the loopback (``ray.cluster_utils.Cluster``, nodes at 127.0.0.1, one CPU
each; torch one thread per task), started and shut down by this script, in one process:

1. Scaling: a study of 8 bundles (32 configurations of an MLP 40 -> 256 -> 256 -> 10 on MNIST-1D,
   AdamW, 5 epochs, ``--max-bundle 4``) on a cluster of one node, then of two; each also without Ray
   in this process for reference. Ratio: one node's wall time over two nodes'.
2. Dispatch: a study of one configuration for one epoch, end to end (``run_study``: planning, the task,
   storing), on the two-node cluster against the same study without Ray. The first study of a driver
   pays each worker's start (importing torch and initopt there): "cold"; the ones after it: "warm".

Usage: python benchmarks/ray_scale.py [--repeats 3]
Floors (the Ray issue): two nodes >= 1.6x one node; dispatch <= 0.5 s per bundle.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep every node on 127.0.0.1 (read when Ray is imported)

import ray  # noqa: E402
import torch  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from initopt.study.execution import Execution  # noqa: E402
from initopt.study.runner import run_study  # noqa: E402

LOOPBACK = "127.0.0.1"


def scaling_spec(name: str) -> dict:
    return {"name": name, "workload": {"dataset": "mnist1d", "model": "mlp", "hidden": [256, 256]},
            "train": {"epochs": 5, "batch_size": 32, "threads": 1},
            "grid": {"init": ["he_normal", "xavier_normal"], "seeds": [0, 1],
                     "optimizer": [{"name": "adamw", "lr": [3e-4, 1e-3, 3e-3, 1e-2], "weight_decay": [0.0, 0.01]}]}}


def dispatch_spec(name: str) -> dict:
    return {"name": name, "workload": {"dataset": "mnist1d", "model": "mlp", "hidden": [256, 256]},
            "train": {"epochs": 1, "batch_size": 32, "threads": 1},
            "grid": {"init": ["he_normal"], "seeds": [0], "optimizer": [{"name": "adamw", "lr": [1e-3]}]}}


def timed(spec: dict, folder: Path, **options) -> float:
    db = folder / f"{spec['name']}-{time.monotonic_ns()}.db"
    started = time.perf_counter()
    report = run_study(spec, db=db, checkpoint_seconds=60, **options)
    seconds = time.perf_counter() - started
    assert set(report.counts) == {"done"}, report.counts
    return seconds


def start(nodes: int) -> Cluster:
    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 1, "node_ip_address": LOOPBACK, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, _node_ip_address=LOOPBACK, logging_level="warning")
    return cluster


def stop(cluster: Cluster) -> None:
    ray.shutdown()
    cluster.shutdown()


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# ray_scale: {platform.node()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"torch {torch.__version__}, ray {ray.__version__}, {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        local = [timed(scaling_spec("local"), folder, max_bundle=4) for _ in range(args.repeats)]
        print(f"scaling, no Ray (this process):  {spread(local)}")
        walls = {}
        for nodes in (1, 2):
            cluster = start(nodes)
            try:
                timed(scaling_spec("warm-up"), folder, max_bundle=4, execution=Execution(ray=cluster.address))
                walls[nodes] = [timed(scaling_spec(f"n{nodes}"), folder, max_bundle=4,
                                      execution=Execution(ray=cluster.address)) for _ in range(args.repeats)]
                print(f"scaling, {nodes} node(s) x 1 CPU: {spread(walls[nodes])}")
                if nodes == 2:
                    here = [timed(dispatch_spec("here"), folder) for _ in range(args.repeats)]
                    stop(cluster)
                    cluster = start(2)  # a fresh driver: its workers start with its first task
                    cold = timed(dispatch_spec("cold"), folder, execution=Execution(ray=cluster.address))
                    warm = [timed(dispatch_spec("warm"), folder, execution=Execution(ray=cluster.address))
                            for _ in range(args.repeats)]
            finally:
                stop(cluster)
        ratios = [one / two for one, two in zip(walls[1], walls[2])]
        print(f"two nodes over one: {statistics.median(ratios):.2f}x (runs: {', '.join(f'{r:.2f}' for r in ratios)})"
              " - floor 1.6x")
        base = statistics.median(here)
        print(f"dispatch of a 1-configuration, 1-epoch bundle: no Ray {spread(here)}; on the cluster cold {cold:.2f} s, "
              f"warm {spread(warm)}")
        print(f"dispatch overhead: warm {statistics.median(warm) - base:.2f} s, cold {cold - base:.2f} s"
              " - floor 0.5 s")


if __name__ == "__main__":
    main()
