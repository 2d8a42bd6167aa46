"""Virtual trials and regimen optimisations off the request thread, with progress and
cancellation.

One worker thread runs trials one after another (the compiled solver already uses every
core for one trial; two at once would only share them). A trial's state lives in the
catalogue, not in this process: the page polls the catalogue, so a reloaded page, or
another browser, sees the same progress, and a cancel is a flag in the catalogue that the
worker reads after each chunk. The runner's ``on_chunk`` hook is the library's own way to
observe (and, by raising, to stop) a run between chunks; an optimisation's is the
optimiser's ``on_candidate`` hook (progress and cancel land between candidates).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from ivigsim.errors import IvigsimError
from ivigsim.web import service
from ivigsim.web.catalogue import Catalogue

log = logging.getLogger("ivigsim.web")


class _Cancelled(Exception):
    """Raised from the chunk hook to stop a trial the user cancelled."""


class TrialWorker:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ivigsim-trial")
        self._closing = threading.Event()

    def submit(self, document: dict, name: str | None = None) -> str:
        """Check the trial now (bad input is refused before anything is queued), record it
        as queued and hand it to the worker; return its run id."""
        trial = service.build_trial(document)
        total = trial.size * len(trial.arms)
        run_id = self.catalogue.add_run("trial", name or trial.name, {"trial": document}, status="queued", total=total)
        self._pool.submit(self._run, run_id, trial)
        return run_id

    def submit_optimisation(self, body: dict) -> str:
        """Check an optimisation now (``stewardship.build_optimisation``: every candidate's
        regimen compiled), record it as queued and hand it to the worker; return its run id."""
        from ivigsim.web.stewardship import build_optimisation

        request = build_optimisation(body.get("trial"), body.get("endpoint"), body.get("target"), body.get("doses"),
                                     body.get("intervals"), body.get("conservative", False), body.get("arm"),
                                     body.get("size"))
        name = f"{request.trial.name}: optimise {request.endpoint} >= {request.target:g}"
        run_id = self.catalogue.add_run("optimise", name, body, status="queued", total=request.candidates)
        self._pool.submit(self._optimise, run_id, request)
        return run_id

    def cancel(self, run_id: str) -> None:
        self.catalogue.request_cancel(run_id)
        record = self.catalogue.get(run_id)
        if record and record["status"] == "queued":
            # Not started: the worker will skip it; say so at once.
            self.catalogue.update(run_id, status="cancelled", error="cancelled before it started")

    def close(self, wait: bool = True) -> None:
        """Stop taking work; the running trial stops at its next chunk."""
        self._closing.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _run(self, run_id: str, trial) -> None:
        from ivigsim.trial.runner import run_trial

        if self._closing.is_set() or self.catalogue.cancel_requested(run_id):
            return
        total = trial.size * len(trial.arms)
        self.catalogue.update(run_id, status="running", progress=0.0, done=0, total=total)
        done = 0

        def on_chunk(job) -> None:
            nonlocal done
            done += (job.stop - job.start) * len(trial.arms)
            self.catalogue.update(run_id, progress=min(1.0, done / total), done=done)
            if self._closing.is_set() or self.catalogue.cancel_requested(run_id):
                raise _Cancelled

        try:
            result = run_trial(trial, None, chunk_size=service.chunk_size(trial.size), on_chunk=on_chunk)
        except _Cancelled:
            status = "interrupted" if self._closing.is_set() and not self.catalogue.cancel_requested(run_id) else "cancelled"
            self.catalogue.update(run_id, status=status, error=f"{status} after {done} of {total} patients")
            return
        except IvigsimError as exc:
            self.catalogue.update(run_id, status="failed", error=str(exc))
            return
        except Exception as exc:  # a bug must not kill the worker thread, and the page must hear of it
            log.exception("trial %s failed", run_id)
            self.catalogue.update(run_id, status="failed", error=f"internal error ({type(exc).__name__}); see the server log")
            return
        self.catalogue.update(run_id, status="done", progress=1.0, done=total,
                              result={"summary": service.clean(result.summary), "text": result.text()})

    def _optimise(self, run_id: str, request) -> None:
        from ivigsim.trial.optimise import optimise
        from ivigsim.web import actions, stewardship

        if self._closing.is_set() or self.catalogue.cancel_requested(run_id):
            return
        total = request.candidates
        self.catalogue.update(run_id, status="running", progress=0.0, done=0, total=total)
        done = 0

        def on_candidate(_candidate) -> None:
            nonlocal done
            done += 1
            self.catalogue.update(run_id, progress=min(1.0, done / total), done=done)
            if self._closing.is_set() or self.catalogue.cancel_requested(run_id):
                raise _Cancelled

        try:
            optimum = optimise(request.trial, request.endpoint, request.target, request.grid,
                               conservative=request.conservative, arm=request.arm, on_candidate=on_candidate)
            self.catalogue.put_artefact(run_id, actions.TABLE, service.DOWNLOADS["csv"], stewardship.optimum_csv(optimum))
            for fmt, media in service.FIGURES.items():  # drawn here: the optimum is not kept, its table is
                with actions._PLOT_LOCK:
                    figure = stewardship.optimum_figure(optimum, fmt)
                self.catalogue.put_artefact(run_id, actions.figure_name(fmt), media, figure)
        except _Cancelled:
            status = "interrupted" if self._closing.is_set() and not self.catalogue.cancel_requested(run_id) else "cancelled"
            self.catalogue.update(run_id, status=status, error=f"{status} after {done} of {total} candidates")
            return
        except IvigsimError as exc:
            self.catalogue.update(run_id, status="failed", error=str(exc))
            return
        except Exception as exc:  # a bug must not kill the worker thread, and the page must hear of it
            log.exception("optimisation %s failed", run_id)
            self.catalogue.update(run_id, status="failed", error=f"internal error ({type(exc).__name__}); see the server log")
            return
        self.catalogue.update(run_id, status="done", progress=1.0, done=total, result=stewardship.optimum_result(optimum))
