"""The line a driver prints when its ``--scheduler`` has no worker, instead of waiting in silence.

Issue 17: a batch sent to a scheduler without workers sat there, saying nothing. After a declared
grace period the driver says that no worker is connected and how to start one, and keeps
waiting.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

from sim.errors import InputError

if TYPE_CHECKING:
    from distributed import Client

    from sim.experiment.store import ResultStore


#: Seconds a driver waits for a worker on its ``--scheduler`` before it says how to start one
#: (issue 17: a scheduler without workers held the tasks and the driver waited in silence).
NO_WORKER_GRACE_S = 30.0
#: Environment variable that overrides :data:`NO_WORKER_GRACE_S` (tests use a short one).
NO_WORKER_GRACE_ENV = "IMPLSIM_NO_WORKER_GRACE"


class NoWorkerHint:
    """One line on stderr once a scheduler has had no worker for the grace period; then it waits.

    Why it keeps waiting rather than failing: workers may be on their way (queued by a batch
    system, or started by hand once the user reads the line). A watcher thread asks the
    scheduler how many workers it has about once a second; a worker that arrives resets it, so
    a cluster that later loses every worker gets the line again after the grace period.
    """

    @staticmethod
    def grace_period() -> float:
        """:data:`NO_WORKER_GRACE_S`, or the seconds :data:`NO_WORKER_GRACE_ENV` gives."""
        raw = os.environ.get(NO_WORKER_GRACE_ENV)
        try:
            grace = NO_WORKER_GRACE_S if raw is None else float(raw)
        except ValueError:
            grace = math.nan
        if not (math.isfinite(grace) and grace >= 0):
            raise InputError(NO_WORKER_GRACE_ENV, f"must be a number of seconds >= 0, got "
                             f"{raw!r}; unset it for the default ({NO_WORKER_GRACE_S:g} s)")
        return grace

    def __init__(self, client: Client, scheduler: str, store: ResultStore,
                 grace: float) -> None:
        self.client, self.store, self.grace = client, store, grace
        self.address = getattr(getattr(client, "scheduler", None), "address", None) or scheduler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="implsim-no-worker-hint",
                                        daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        since, told = time.monotonic(), False
        while not self._stop.wait(min(1.0, max(self.grace / 4, 0.05))):
            try:
                workers = self.client.scheduler_info(n_workers=0).get("n_workers", 0)
            except Exception:  # the client closing or the scheduler lost: the batch says why
                return
            if workers:
                since, told = time.monotonic(), False
            elif not told and time.monotonic() - since >= self.grace:
                told = True
                print(f"implsim: no Dask worker is connected to {self.address} (waited "
                      f"{self.grace:g} s); the batch waits for one. Start one with: dask "
                      f"worker {self.address} (where {self.store.root} can be reached)",
                      file=sys.stderr, flush=True)

    def stop(self) -> None:
        """End the watcher (before the client closes)."""
        self._stop.set()
        self._thread.join(timeout=10)
