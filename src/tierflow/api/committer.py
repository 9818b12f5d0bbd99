"""Group commit for the HTTP server: request threads hand their signed commands to one writer thread,
which runs whatever has queued up (up to ``commit_batch``) in ONE transaction — a savepoint per command —
and answers each request after the durable commit. Throughput then pays one fsync per batch, not per
operation; latency pays at most one batch.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future

from tierflow.domain.errors import DomainError
from tierflow.services.ledger import Accepted, LedgerService, Prepared, Submission

_STOP = object()


class GroupCommitter:
    def __init__(self, ledger: LedgerService, *, max_batch: int = 256) -> None:
        self._ledger = ledger
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
            self._thread = None

    async def submit_async(self, submission: Submission) -> Accepted:
        """``submit`` for the event loop: the request waits for its batch without holding a thread."""
        prepared = self._ledger.prepare(submission)
        if prepared.error is not None:
            raise prepared.error
        if self._thread is None:
            return self._execute_inline(prepared)
        future: Future[Accepted | DomainError] = Future()
        self._queue.put((prepared, future))
        result = await asyncio.wrap_future(future)
        if isinstance(result, DomainError):
            raise result
        return result

    def _execute_inline(self, prepared: Prepared) -> Accepted:
        result = self._ledger.execute_batch([prepared])[0]
        if isinstance(result, DomainError):
            raise result
        return result

    def submit(self, submission: Submission) -> Accepted:
        # Signature checks run here, in the request's own thread, while the writer commits other batches.
        prepared = self._ledger.prepare(submission)
        if prepared.error is not None:
            raise prepared.error
        if self._thread is None:  # not started (tests, CLI): run inline
            return self._execute_inline(prepared)
        future: Future[Accepted | DomainError] = Future()
        self._queue.put((prepared, future))
        result = future.result()
        if isinstance(result, DomainError):
            raise result
        return result

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
            pairs = [item for item in batch if isinstance(item, tuple)]
            try:
                results = self._ledger.execute_batch([p for p, _ in pairs])
            except Exception as error:  # the whole transaction failed: every waiter learns why
                for _, future in pairs:
                    future.set_exception(error)
                continue
            for (_, future), result in zip(pairs, results, strict=True):
                future.set_result(result)
