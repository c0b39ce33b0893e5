"""A study's bundles trained one after another in this process (what a study does without ``--ray``)."""

from __future__ import annotations

from initopt.study.backends.store_sink import StoreSink, start_job
from initopt.study.bundle_run import run_bundle
from initopt.study.plan import MEMORY_FRACTION, available_memory
from initopt.threads import apply as apply_threads


class LocalBackend:
    def __init__(self, device: str, threads):
        self.device, self.threads = device, threads

    def environment(self) -> dict:
        from initopt.study.runner import environment

        return environment(self.device)

    def memory_budget(self) -> int:
        """Bytes one bundle may take: a share of the device's free memory."""
        return int(available_memory(self.device) * MEMORY_FRACTION)

    def run(self, store, workload, work, *, claim, engine: str, events, report, checkpoint_seconds: float,
            ladder) -> None:
        """Train the bundles of ``work`` (``(configs, checkpoint)`` pairs) in turn, each claimed first."""
        name = workload.spec.name
        for configs, checkpoint in work:
            if self.device == "cpu":
                apply_threads(self.threads)  # a user factory or a scheme may have changed it
            mine = claim(configs, checkpoint)
            if not mine:
                continue
            job = start_job(store, name, mine, checkpoint)
            sink = StoreSink(store, name, job, events, report.notices, ladder)
            try:
                run_bundle(workload, job, sink, engine=engine, device=self.device,
                           checkpoint_seconds=checkpoint_seconds, halving=workload.spec.search.halving)
            finally:
                sink.close()

    def close(self) -> None:
        pass
