"""Run trial chunks on a Dask cluster (a local one, or an existing scheduler).

Each chunk is one task; results come back to this process, which writes them (so
workers need no shared file system). At most ``2 x workers`` chunks are in flight,
which bounds memory on both sides. Results are identical to a single-process run:
a chunk's numbers do not depend on where it ran (``ivigsim.trial.runner``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ivigsim.errors import InputError


def local_client(workers: int):
    """A local cluster of ``workers`` single-threaded processes (the compiled engine
    parallelises within a process too, so each worker is limited to one thread)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError("--workers", "a whole number of worker processes >= 1", workers)
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    return Client(cluster)


def connect(address: str):
    from dask.distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError("--scheduler", "the address of a running Dask scheduler (tcp://host:8786)",
                         f"{address} ({exc.__class__.__name__})") from None


def run_on_dask(client, trial, jobs, args: Callable) -> Iterator:
    from dask.distributed import as_completed

    from ivigsim.trial.runner import run_chunk

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = 2 * workers
    pending = list(jobs)
    futures = {}
    trial_future = client.scatter(trial, broadcast=True)

    def submit(job):
        _, start, stop, *rest = args(job)  # candidates, then per arm: sub-populations, run-in states
        f = client.submit(run_chunk, trial_future, start, stop, *rest, key=f"ivigsim-{job.stem}-{trial.fingerprint()}",
                          pure=False)
        futures[f] = job

    for _ in range(min(window, len(pending))):
        submit(pending.pop(0))
    queue = as_completed(list(futures))
    for future in queue:
        job = futures.pop(future)
        result = future.result()
        future.release()
        if pending:
            nxt = pending.pop(0)
            submit(nxt)
            queue.add(next(f for f, j in futures.items() if j is nxt))
        yield job, result
