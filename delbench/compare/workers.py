"""Worker processes for the pre-train + evaluate units, and stopping them at once.

Leaving the pool by any exception (Ctrl-C, SIGTERM, a failed unit) cancels the units not yet started
and terminates the workers instead of waiting for the running units to finish: every finished stage
is in the cache and pre-training checkpoints every ``checkpoint_every`` steps, so the next run resumes
where they stopped. A worker dies on SIGINT (a Ctrl-C reaches the whole process group) without a
traceback; the parent reports once.

A worker that ends abruptly (killed, or out of memory) breaks the whole pool. Each worker tells the
parent which job it starts (``submit``'s key), so the parent can name the job whose worker died —
the one that did not exit by the pool's own SIGTERM — and keep every job that finished
(``WorkerDied``).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Hashable, Iterator

from delbench.errors import DelbenchError

STOP_WAIT_S = 3.0  # how long a terminated worker may take to exit before it is killed
_started: Any = None  # in a worker: the queue on which it tells the parent which job it starts


class WorkerDied(DelbenchError):
    """A worker ended abruptly. ``jobs`` are the keys of the jobs it was running with their exit codes
    (every job then running, with None, when the dead worker cannot be told apart)."""

    def __init__(self, jobs: list[tuple[Hashable, int | None]]) -> None:
        super().__init__("a worker process ended abruptly (killed, or out of memory); finished stages are "
                         "cached: rerun the same command to resume")
        self.jobs = jobs


def _worker_init(started: Any = None) -> None:
    global _started
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _started = started


def tracked(key: Hashable, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a worker, first telling the parent that this worker runs job ``key``."""
    if _started is not None:
        _started.put((os.getpid(), key))
    return fn(*args)


class Workers:
    """The pool as ``worker_pool`` yields it: ``submit`` a job under a key."""

    def __init__(self, pool: ProcessPoolExecutor, started: Any) -> None:
        self.pool, self.started = pool, started
        self.processes: dict[int, Any] = {}  # pid -> multiprocessing.Process, as the pool spawns them

    def submit(self, key: Hashable, fn: Callable[..., Any], *args: Any) -> Future:
        import multiprocessing

        future = self.pool.submit(tracked, key, fn, *args)
        for proc in multiprocessing.active_children():
            self.processes.setdefault(proc.pid, proc)
        return future

    def dead_jobs(self, finished: set[Hashable]) -> list[tuple[Hashable, int | None]]:
        """The jobs running when the pool broke, narrowed to the worker that did not exit by the
        pool's SIGTERM when that one can be told apart."""
        running: dict[int, Hashable] = {}
        while not self.started.empty():
            pid, key = self.started.get()
            running[pid] = key
        running = {pid: key for pid, key in running.items() if key not in finished}
        codes = {}
        for pid in running:
            proc = self.processes.get(pid)
            if proc is not None:
                proc.join(STOP_WAIT_S)
                codes[pid] = proc.exitcode
        culprits = [(key, codes[pid]) for pid, key in running.items()
                    if codes.get(pid) not in (None, 0, -signal.SIGTERM)]
        return culprits or [(key, None) for key in running.values()]


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def worker_pool(jobs: int, finished: set[Hashable] | None = None) -> Iterator[Workers]:
    """A pool of ``jobs`` spawned workers, stopped at once when the block ends by an exception. A
    worker that dies raises ``WorkerDied`` naming its job; ``finished`` (filled in by the caller)
    says which jobs are done, so an idle worker's last job is not blamed."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    started = context.SimpleQueue()
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init, initargs=(started,))
    workers = Workers(pool, started)
    # SIGTERM (a scheduler's or `timeout`'s stop) takes the Ctrl-C path, so the workers go too.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield workers
    except BrokenProcessPool:
        dead = workers.dead_jobs(finished or set())
        stop(pool)
        raise WorkerDied(dead) from None
    except BaseException:
        stop(pool)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now: SIGTERM, then SIGKILL after ``STOP_WAIT_S``."""
    import multiprocessing

    # This process's children are the pool's workers (ProcessPoolExecutor.terminate_workers() only
    # exists from Python 3.14).
    import time

    processes = multiprocessing.active_children()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    # one deadline for all of them, so stopping N workers takes STOP_WAIT_S at most, not N times that
    deadline = time.monotonic() + STOP_WAIT_S
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in processes:
        if proc.is_alive():
            proc.kill()
            proc.join()
