"""Who trains a configuration: claims with heartbeats, so that processes sharing a study share its work.

A process names itself by ``owner_name()`` (``host:pid:token``) and claims a bundle's configurations
before it trains them; while it trains, a heartbeat thread writes the time every
``HEARTBEAT_SECONDS``. Another process takes a claim over only when its owner stopped beating for
``STALE_SECONDS`` (Optuna's heartbeat and grace period), or at once when the owner ran on this
machine and its process is gone (a rerun after ``kill -9`` need not wait).
"""

from __future__ import annotations

import os
import secrets
import socket

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0


def owner_name() -> str:
    """This process as a claim's owner: ``host:pid:token`` (the token tells a reused pid apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def is_live(owner: str | None, heartbeat: float | None, now: float, stale_after: float = STALE_SECONDS) -> bool:
    """Whether a claim still holds. On this machine: while the owner's process exists (however long
    ago it beat: a stopped or busy process keeps its claims). Elsewhere: while it beat within
    ``stale_after`` seconds."""
    if owner is None or heartbeat is None:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's live process
            return True
        return True
    return now - heartbeat <= stale_after


class Heartbeat:
    """A daemon thread that keeps ``owner``'s claims in ``study`` alive (its own connection to ``db``)
    until the ``with`` block ends; the claims are released then, however it ends."""

    def __init__(self, db, study: str, owner: str, interval: float = HEARTBEAT_SECONDS):
        import threading

        self.db, self.study, self.owner, self.interval = db, study, owner, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="initopt-heartbeat", daemon=True)

    def _run(self) -> None:
        from initopt.study.store.sqlite import SQLiteStore

        store = None
        while not self._stop.wait(self.interval):
            try:  # never die: a busy or briefly unreadable file is tried again at the next beat
                store = store or SQLiteStore(self.db)
                store.beat(self.study, self.owner)
            except Exception:  # noqa: BLE001
                if store is not None:
                    store.close()
                store = None
        if store is not None:
            store.close()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        from initopt.study.store.sqlite import SQLiteStore

        self._stop.set()
        self._thread.join()
        try:
            with SQLiteStore(self.db) as store:
                store.release(self.study, self.owner)
        except Exception:  # noqa: BLE001  (the claims lapse with this process; never hide what ended the run)
            pass
