"""Studies on a real local Ray cluster: two nodes (one CPU each), every process on 127.0.0.1.

Faults are real: a bundle's worker process is sent SIGKILL, a node is removed, the driver (``initopt study
run --ray``) is sent SIGKILL. Each study is checked against the same study run in this process without
Ray: bitwise equal epochs (one torch thread on both sides), every configuration ended once.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# Read when Ray is imported: keeps every process of the cluster on the loopback (with node_ip_address)
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from initopt.study.execution import Execution  # noqa: E402
from initopt.study.runner import run_study  # noqa: E402

LOOPBACK = "127.0.0.1"
EPOCHS = 6


def spec(name: str = "ray", **train) -> dict:
    """Four configurations of a small MLP on MNIST-1D: two bundles of two (about 2 s each, 6 epochs)."""
    return {"name": name, "workload": {"dataset": "mnist1d", "model": "mlp", "hidden": [128, 128]},
            "train": {"epochs": EPOCHS, "batch_size": 32, "threads": 1, **train},
            "grid": {"init": ["he_normal"], "seeds": [0, 1], "optimizer": [{"name": "adamw", "lr": [1e-3, 3e-3]}]}}


@pytest.fixture(scope="module")
def cluster():
    """A head node and one more, both on the loopback (ray-project/ray#59110: Ray on Linux otherwise
    swaps 127.0.0.1 for the interface's address), this process connected as the driver."""
    made = Cluster(initialize_head=True, connect=False,
                   head_node_args={"num_cpus": 1, "node_ip_address": LOOPBACK, "include_dashboard": False})
    made.add_node(num_cpus=1, node_ip_address=LOOPBACK)
    made.wait_for_nodes()
    ray.init(address=made.address, _node_ip_address=LOOPBACK, logging_level="warning")
    try:
        assert {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} == {LOOPBACK}
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


@pytest.fixture(scope="module")
def local_epochs(tmp_path_factory) -> list[tuple]:
    """The study's epochs run here without Ray: the answers every cluster run must give."""
    db = tmp_path_factory.mktemp("local") / "local.db"
    run_study(spec(), db=db, max_bundle=2, checkpoint_seconds=0)
    return epochs_of(db)


def epochs_of(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT config_id, epoch, train_loss, train_metric, val_loss, val_metric, test_loss,"
                                   " test_metric FROM epochs").fetchall())


def statuses(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        return {row[0]: row[1:] for row in conn.execute("SELECT id, status, epochs_run, finished, error FROM configs")}


def epoch_count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM epochs").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def when(db: Path, rows: int, then, timeout: float = 60.0) -> threading.Thread:
    """A thread that calls ``then()`` once ``db`` holds ``rows`` epoch rows (the study is mid-way)."""
    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if epoch_count(db) >= rows:
                then()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def bundle_workers(made: Cluster) -> list[int]:
    """Pids of this cluster's worker processes that are training a bundle now (Ray titles a worker
    by its task's name: ``ray::initopt-bundle-N``)."""
    raylets = {node.all_processes["raylet"][0].process.pid for node in made.list_all_nodes()}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().split(b"\0")[0].decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError):
            continue
        if title.startswith("ray::initopt-bundle") and parent in raylets:
            found.append(int(entry))
    return found


def test_a_study_on_the_cluster_stores_what_it_stores_locally(cluster, local_epochs, tmp_path):
    db = tmp_path / "ray.db"
    report = run_study(spec(), db=db, max_bundle=2, checkpoint_seconds=0, execution=Execution(ray=cluster.address))
    assert report.counts == {"done": 4}
    assert epochs_of(db) == local_epochs  # bitwise: one torch thread here and in each task
    from initopt.study.store import SQLiteStore

    with SQLiteStore(db) as store:
        env = store.runs("ray")[0].environment
    assert env["ray_nodes"] == 2 and env["cpus_per_bundle"] == 1.0 and env["device"] == "cpu"


def test_a_worker_killed_mid_bundle_runs_its_bundle_again(cluster, local_epochs, tmp_path):
    db = tmp_path / "ray.db"
    killed = []

    def kill_one():
        for _ in range(200):
            pids = bundle_workers(cluster)
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.01)

    watcher = when(db, 2, kill_one)  # a bundle's first epoch is stored: it is mid-way
    report = run_study(spec(), db=db, max_bundle=2, checkpoint_seconds=0, execution=Execution(ray=cluster.address))
    watcher.join()
    assert killed, "no bundle's worker was found to kill"
    assert any("a Ray worker was lost" in n for n in report.notices), report.notices
    assert report.counts == {"done": 4}
    assert epochs_of(db) == local_epochs  # each (configuration, epoch) once, with the uninterrupted values


def test_a_node_removed_mid_study_loses_nothing(cluster, local_epochs, tmp_path):
    db = tmp_path / "ray.db"
    other = next(node for node in cluster.list_all_nodes() if node is not cluster.head_node)
    watcher = when(db, 4, lambda: cluster.remove_node(other))  # both bundles are mid-way: one is on that node
    try:
        report = run_study(spec(), db=db, max_bundle=2, checkpoint_seconds=0,
                           execution=Execution(ray=cluster.address))
        watcher.join()
    finally:
        cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK)  # the next tests' second node
        cluster.wait_for_nodes()
    assert any("a Ray worker was lost" in n for n in report.notices), report.notices
    assert report.counts == {"done": 4}
    assert epochs_of(db) == local_epochs


def test_a_bundle_that_fails_of_its_own_is_stored_failed_and_retried(cluster, tmp_path):
    """A user factory that works here (where the study checks the model) and fails on the cluster's
    workers, as one needing a file or a library that the nodes lack: failed with its reason; once it
    works, ``retry_failed`` trains them on the cluster."""
    (tmp_path / "flaky.py").write_text(
        "import os\nfrom pathlib import Path\nfrom torch import nn\n\n"
        "def build(n_features, out):\n"
        "    driver = Path(__file__).parent / 'driver.pid'\n"
        "    if driver.exists() and int(driver.read_text()) != os.getpid():\n"
        "        raise RuntimeError('no such file on this node')\n"
        "    return nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, out))\n")
    (tmp_path / "driver.pid").write_text(str(os.getpid()))
    raw = spec("flaky")
    raw["workload"] = {"dataset": "mnist1d", "model": "flaky:build"}
    raw["train"]["epochs"] = 2
    path = tmp_path / "flaky.toml"
    path.write_text(toml(raw))
    db = tmp_path / "ray.db"
    report = run_study(path, db=db, max_bundle=2, execution=Execution(ray=cluster.address))
    assert report.counts == {"failed": 4}
    assert report.first_error == "ValueError: model factory 'flaky:build' failed: no such file on this node"
    assert epoch_count(db) == 0
    (tmp_path / "driver.pid").unlink()
    again = run_study(path, db=db, max_bundle=2, retry_failed=True, execution=Execution(ray=cluster.address))
    assert again.counts == {"done": 4} and again.trained == 4


def toml(raw: dict) -> str:
    """A spec dict of this file's shape as TOML text."""
    import json

    def value(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    lines = [f"name = {value(raw['name'])}"]
    for table in ("workload", "train", "search", "execution"):
        if table in raw:
            lines += [f"[{table}]"] + [f"{k} = {value(v)}" for k, v in raw[table].items()]
    grid = raw["grid"]
    lines += ["[grid]", f"init = {value(grid['init'])}", f"seeds = {value(grid['seeds'])}"]
    for optimizer in grid["optimizer"]:
        lines += ["[[grid.optimizer]]"] + [f"{k} = {value(v)}" for k, v in optimizer.items()]
    return "\n".join(lines) + "\n"


def test_successive_halving_decides_at_the_driver(cluster, tmp_path):
    raw = spec("halving")
    raw["grid"]["optimizer"] = [{"name": "adamw", "lr": [1e-4, 1e-3, 3e-3, 1e-2]}]
    raw["grid"]["seeds"] = [0]
    raw["search"] = {"strategy": "halving", "reduction_factor": 2, "min_epochs": 2}
    here, there = tmp_path / "here.db", tmp_path / "there.db"
    run_study(raw, db=here, checkpoint_seconds=0)
    report = run_study(raw, db=there, checkpoint_seconds=0, execution=Execution(ray=cluster.address))
    assert report.counts.get("pruned", 0) >= 1
    assert statuses(there).keys() == statuses(here).keys()
    assert {k: v[:2] for k, v in statuses(there).items()} == {k: v[:2] for k, v in statuses(here).items()}
    assert epochs_of(there) == epochs_of(here)


def test_the_driver_killed_then_run_again_resumes(cluster, tmp_path):
    """``initopt study run --ray`` in a real process, SIGKILLed mid-study, then run again: it goes on from
    the stored checkpoints, the configurations that had finished untouched."""
    path, db = tmp_path / "ray.toml", tmp_path / "ray.db"
    path.write_text(toml(spec()))
    command = [sys.executable, "-m", "initopt.cli.main", "study", "run", str(path), "--db", str(db), "--max-bundle",
               "1", "--checkpoint-every", "0", "--ray", cluster.address, "--report", str(tmp_path / "r.html")]
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(v[0] == "done" for v in statuses_or_none(db).values()):
        assert driver.poll() is None, driver.stdout.read().decode()
        time.sleep(0.02)
    finished = sum(v[0] == "done" for v in statuses(db).values())
    while time.monotonic() < deadline and epoch_count(db) < finished * EPOCHS + 2:
        time.sleep(0.01)  # another bundle is mid-way
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    done_before = {k: v for k, v in statuses(db).items() if v[0] == "done"}
    assert 0 < len(done_before) < 4
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "configurations were already finished" in again.stdout
    after = statuses(db)
    assert all(after[k] == v for k, v in done_before.items())  # finished before the kill: untouched
    assert {v[0] for v in after.values()} == {"done"}
    run_study(spec(), db=tmp_path / "local.db", max_bundle=1, checkpoint_seconds=0)  # bundles of one here too
    assert epochs_of(db) == epochs_of(tmp_path / "local.db")


def statuses_or_none(db: Path) -> dict[str, tuple]:
    try:
        return statuses(db)
    except sqlite3.OperationalError:  # the driver has not created it yet
        return {}
