"""Worker processes for the pre-train + evaluate units, and stopping them at once.

Leaving the pool by any exception (Ctrl-C, SIGTERM, a failed unit) cancels the units not yet started
and terminates the workers instead of waiting for the running units to finish: every finished stage
is in the cache and pre-training checkpoints every ``checkpoint_every`` steps, so the next run resumes
where they stopped. A worker dies on SIGINT (a Ctrl-C reaches the whole process group) without a
traceback; the parent reports once.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterator

from delbench.errors import DelbenchError

STOP_WAIT_S = 3.0  # how long a terminated worker may take to exit before it is killed


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def worker_pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``jobs`` spawned workers, stopped at once when the block ends by an exception."""
    import multiprocessing

    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init)
    # SIGTERM (a scheduler's or `timeout`'s stop) takes the Ctrl-C path, so the workers go too.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield pool
    except BrokenProcessPool:
        stop(pool)
        raise DelbenchError("a worker process ended abruptly (killed, or out of memory); finished stages are "
                            "cached: rerun the same command to resume") from None
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
    processes = multiprocessing.active_children()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(STOP_WAIT_S)
        if proc.is_alive():
            proc.kill()
            proc.join()
