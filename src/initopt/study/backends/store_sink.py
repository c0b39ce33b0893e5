"""The driver's side of a bundle: a job set up from the store, and a sink that stores what the bundle tells."""

from __future__ import annotations

from initopt.study.bundle_run import BundleJob, bundle_key


def start_job(store, name: str, configs, checkpoint=None) -> BundleJob:
    """Mark ``configs`` running (dropping epoch rows of an earlier attempt after ``checkpoint``'s epoch)
    and make their job: going on from ``checkpoint`` (a ``store.Checkpoint``) with the epochs stored so far."""
    ids = [c.id for c in configs]
    store.mark_running(name, ids, keep_through=checkpoint.epoch if checkpoint else 0)
    if checkpoint is None:
        return BundleJob(list(configs))
    stored: dict[str, list] = {}
    for row in store.epochs(name):
        stored.setdefault(row.config_id, []).append(row)
    return BundleJob(list(configs), checkpoint.state, checkpoint.epoch, [stored.get(i, []) for i in ids])


class StoreSink:
    """Stores a bundle's epochs, results and checkpoints as they come, and passes its progress on to ``events``
    (a notice once per study: ``notices`` is the study's list of those already told)."""

    def __init__(self, store, name: str, job: BundleJob, events, notices: list[str], ladder=None):
        self.store, self.name, self.events, self.notices, self.ladder = store, name, events, notices, ladder
        self.ids = job.ids
        self.keys = [bundle_key(job.ids)]  # every checkpoint this bundle wrote or went on from

    def epochs(self, rows) -> None:
        self.store.record_epochs(self.name, rows)

    def done(self, results) -> None:
        self.store.finish(self.name, results)
        self.events.configs_done(len(results))

    def steps(self, n: int) -> None:
        self.events.steps(n)

    def notice(self, text: str) -> None:
        if text not in self.notices:  # once per study, not once per bundle
            self.notices.append(text)
            self.events.notice(text)

    def checkpoint(self, checkpoint, replaces: str | None) -> None:
        self.store.record_epochs(self.name, [], checkpoint=checkpoint)
        if replaces is not None:  # the larger bundle's checkpoint holds configurations that have ended
            self.store.drop_checkpoint(self.name, replaces)
        if checkpoint.bundle not in self.keys:
            self.keys.append(checkpoint.bundle)

    def restart(self, ids) -> None:
        self.store.mark_running(self.name, list(ids))

    def rung(self, epoch: int, configs) -> set[str]:
        return self.ladder.keep(epoch, configs)

    def latest_checkpoint(self):
        """The newest checkpoint of this bundle in the store (None: none), to go on from after a lost worker."""
        mine = [cp for cp in self.store.checkpoints(self.name) if cp.bundle in self.keys]
        return mine[-1] if mine else None

    def close(self) -> None:
        """Once the bundle's run is over: its checkpoints go if every configuration ended (an interrupted
        bundle keeps its checkpoint, to go on from on the next run)."""
        if not self.store.to_run(self.name, self.ids):
            self.drop_checkpoints()

    def drop_checkpoints(self) -> None:
        """Every checkpoint this bundle wrote or went on from."""
        for key in self.keys:
            self.store.drop_checkpoint(self.name, key)
