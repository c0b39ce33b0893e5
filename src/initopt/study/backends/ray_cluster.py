"""A study's bundles as tasks on a Ray cluster; this process (the driver) alone writes the store.

Each bundle is one Ray generator task (``ray.remote`` with ``num_cpus``/``num_gpus`` from
``[execution]``) that runs ``bundle_run.run_bundle`` and yields what it tells its sink, epoch by epoch;
the driver stores each item as it arrives (``StoreSink``), so the store, the progress bar and the
checkpoints are as a local run leaves them. The workload (its data splits) goes to the object store
once per study and every task reads it from there.

Faults: a task is never retried by Ray (``max_retries=0``): when its worker process or its node is lost,
the driver starts the bundle again itself, from the last checkpoint the driver stored (or from the
start), up to ``max_retries`` times, and the epochs stored after that checkpoint are dropped first, so
every configuration ends once. An error of the bundle's own (a user factory's, out of memory inside
torch) is caught in the task and stored as *failed*, as locally; Ray's out-of-memory kill and an error
outside initopt's code (a node without initopt installed) are stored as failed with their reason.
Successive halving's decisions are the driver's (they read the store): a task at a rung yields the
question and waits for the answer in a small actor.

Ray is imported here only, and only when a study asks for it (``initopt[ray]``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

from initopt.study.backends.store_sink import StoreSink, start_job
from initopt.study.bundle_run import BundleJob, end_failed, run_bundle
from initopt.study.plan import MEMORY_FRACTION, available_memory, bundle_order

INSTALL = "pip install 'initopt[ray]'"
_END = "end"
ANSWER_POLL_SECONDS = 0.02
WAIT_SECONDS = 1.0


class RayUnavailable(ValueError):
    """Ray is not installed, or no cluster answers at the address: a usage error, one line."""


def _import_ray(address: str | None):
    if address is not None and _host(address) in ("127.0.0.1", "localhost"):
        # a cluster on the loopback: Ray on Linux would otherwise swap 127.0.0.1 for the interface's
        # address and never find it (ray-project/ray#59110); read when Ray is imported
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise RayUnavailable(f"--ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


@dataclass
class _Running:
    job: BundleJob
    sink: StoreSink
    attempt: int  # 0 for the first run of the bundle


class RayBackend:
    """A connection to a Ray cluster that runs bundles (``run``) with the resources of ``execution``."""

    def __init__(self, execution, threads):
        address = None if execution.ray == "local" else execution.ray
        ray = _import_ray(address)
        self.ray, self.execution = ray, execution
        if address is not None and address != "auto" and "://" not in address:
            _check_reachable(address)
        self._connected_here = not ray.is_initialized()  # else the caller's connection, left as it was
        try:
            if self._connected_here:
                ray.init(address=address, logging_level="warning", log_to_driver=True, include_dashboard=False,
                         configure_logging=True)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayUnavailable(f"--ray {execution.ray}: no Ray cluster answered ({_first_line(exc)}); start one with "
                                 "`ray start --head`, or use --ray local") from None
        gpus = execution.gpus_per_bundle
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        self.cpus, self.gpus = execution.cpus_per_bundle, gpus
        self.device = "cuda" if gpus > 0 else "cpu"
        # torch's threads in a task: the study's number, else one per CPU the task holds
        self.threads = threads if isinstance(threads, int) else max(1, int(self.cpus))
        self._task = ray.remote(_bundle_task)
        self._mailbox = None
        self._workload_ref = None

    def environment(self) -> dict:
        """What the store records of where the study ran: the driver's versions, the cluster's size and a task's resources."""
        from initopt.study.runner import environment

        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        return {**environment("cpu"), "ray": self.ray.__version__, "ray_nodes": len(nodes), "ray_address": self.execution.ray,
                "cpus_per_bundle": self.cpus, "gpus_per_bundle": self.gpus, "device": self.device,
                "cpu_threads": self.threads}

    def memory_budget(self) -> int:
        """Bytes one bundle may take: a share of the free memory of the device a task gets (measured there)."""
        probe = self.ray.remote(_free_memory).options(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=3)
        free = self.ray.get(probe.remote(self.device))
        share = min(self.gpus, 1.0) if self.gpus > 0 else 1.0  # a fraction of a GPU: that fraction of its memory
        return int(free * share * MEMORY_FRACTION)

    def run(self, store, workload, work, *, claim, engine: str, events, report, checkpoint_seconds: float,
            ladder) -> None:
        """Train the bundles of ``work`` (``(configs, checkpoint)`` pairs) on the cluster, storing their
        results as they come; returns when each has ended (or failed ``max_retries + 1`` times)."""
        ray = self.ray
        name = workload.spec.name
        halving = workload.spec.search.halving
        if self._workload_ref is None or self._workload_ref[0] is not workload:
            portable = replace(workload, setup=replace(workload.setup, probe=None))  # the probe stays here
            self._workload_ref = (workload, ray.put(portable))
        if halving and self._mailbox is None:
            self._mailbox = ray.remote(_Mailbox).options(num_cpus=0).remote()
        running: dict = {}

        def submit(configs, checkpoint, attempt: int) -> None:
            job = start_job(store, name, configs, checkpoint)
            sink = StoreSink(store, name, job, events, report.notices, ladder)
            token = f"{sink.keys[0]}:{attempt}"
            gen = self._task.options(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=0,
                                     name=f"initopt-bundle-{len(configs)}").remote(
                self._workload_ref[1], job, engine, self.device, checkpoint_seconds, halving, self.threads,
                self._mailbox, token)
            running[gen] = _Running(job, sink, attempt)

        for configs, checkpoint in work:
            mine = claim(configs, checkpoint)
            if mine:
                submit(mine, checkpoint, 0)
        try:
            while running:
                ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_SECONDS)  # Ctrl-C is heard between waits
                for gen in ready:
                    item = running[gen]
                    try:
                        method, args = ray.get(next(gen))
                    except StopIteration:
                        del running[gen]
                        item.sink.close()
                        continue
                    except ray.exceptions.RayTaskError as exc:  # raised outside run_bundle: no retry helps
                        del running[gen]
                        self._fail(store, name, item, exc.cause if exc.cause is not None else exc, workload)
                        continue
                    except ray.exceptions.OutOfMemoryError as exc:  # Ray's memory monitor killed the worker
                        del running[gen]
                        self._fail(store, name, item, MemoryError(_first_line(exc)), workload)
                        continue
                    except ray.exceptions.RayError as exc:  # its worker or its node was lost
                        del running[gen]
                        self._lost(store, name, item, exc, workload, submit)
                        continue
                    if method == "rung":
                        epoch, configs, token = args
                        ray.get(self._mailbox.put.remote(token, item.sink.rung(epoch, configs)))
                    else:
                        getattr(item.sink, method)(*args)
        finally:
            for gen in running:  # interrupted: stop the cluster's work; its checkpoints stay in the store
                ray.cancel(gen, force=True)

    def _lost(self, store, name, item: _Running, exc, workload, submit) -> None:
        """A bundle whose worker or node went away: run it again from its last stored checkpoint."""
        unfinished = set(store.to_run(name, item.job.ids))
        if not unfinished:
            item.sink.close()
            return
        if item.attempt >= self.execution.max_retries:
            self._fail(store, name, item, RuntimeError(
                f"the Ray worker training its bundle was lost {item.attempt + 1} times; last: {_first_line(exc)}"),
                workload)
            return
        checkpoint = item.sink.latest_checkpoint()
        by_id = {c.id: c for c in item.job.configs}
        if checkpoint is not None and set(checkpoint.config_ids) == unfinished:
            configs = [by_id[i] for i in checkpoint.config_ids]
        else:
            checkpoint = None
            item.sink.drop_checkpoints()  # a checkpoint that no longer fits is of no use
            configs = bundle_order([c for c in item.job.configs if c.id in unfinished])
        item.sink.notice(f"a Ray worker was lost ({_first_line(exc)}); its bundle of {len(configs)} configurations "
                         "runs again" + (f" from epoch {checkpoint.epoch}" if checkpoint else ""))
        submit(configs, checkpoint, item.attempt + 1)

    def _fail(self, store, name, item: _Running, error: BaseException, workload) -> None:
        """The bundle's unfinished configurations end failed with ``error``; their partial epochs go."""
        unfinished = store.to_run(name, item.job.ids)
        if unfinished:
            end_failed(item.sink, unfinished, error, 0.0, workload.steps_per_config)
        item.sink.close()

    def close(self) -> None:
        if self._connected_here and self.ray.is_initialized():
            self.ray.shutdown()


def _host(address: str) -> str:
    return address.rpartition("://")[2].rpartition(":")[0] or address


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """One line, at once, where nothing listens at HOST:PORT (Ray itself would retry for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"--ray {address}: expected auto, local or HOST:PORT of a Ray cluster's head")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailable(f"--ray {address}: no Ray cluster answers there ({exc.strerror or exc}); start one "
                             "with `ray start --head`, or use --ray local") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Mailbox:
    """Answers of the driver to the tasks' questions (successive halving's rungs), by token."""

    def __init__(self):
        self.answers = {}

    def put(self, token: str, answer) -> None:
        self.answers[token] = answer

    def take(self, token: str):
        return self.answers.pop(token, None)


class _QueueSink:
    """A task's sink: each call becomes an item for the driver; a rung waits for the driver's answer."""

    def __init__(self, queue, mailbox, token: str):
        self.queue, self.mailbox, self.token = queue, mailbox, token

    def __getattr__(self, method: str):
        if method not in ("epochs", "done", "steps", "notice", "checkpoint", "restart"):
            raise AttributeError(method)
        return lambda *args: self.queue.put((method, args))

    def rung(self, epoch: int, configs) -> set[str]:
        import ray

        token = f"{self.token}:{epoch}"
        self.queue.put(("rung", (epoch, configs, token)))
        while (answer := ray.get(self.mailbox.take.remote(token))) is None:
            time.sleep(ANSWER_POLL_SECONDS)
        return answer


def _bundle_task(workload, job: BundleJob, engine: str, device: str, checkpoint_seconds: float, halving: bool,
                 threads: int, mailbox, token: str):
    """The Ray task of one bundle: ``run_bundle`` in a thread, its sink's calls yielded as they happen."""
    import queue
    import threading

    from initopt.threads import apply as apply_threads

    if device == "cpu":
        apply_threads(threads)
    items: queue.Queue = queue.Queue()
    sink = _QueueSink(items, mailbox, token)

    def work() -> None:
        try:
            run_bundle(workload, job, sink, engine=engine, device=device, checkpoint_seconds=checkpoint_seconds,
                       halving=halving)
            items.put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - raised again in the task, where Ray reports it
            items.put(("error", exc))

    threading.Thread(target=work, name="initopt-bundle", daemon=True).start()
    while True:
        method, args = items.get()
        if method == _END:
            return
        if method == "error":
            raise args
        yield method, args


def _free_memory(device: str) -> int:
    return available_memory(device)
