"""Uploads too large to answer while the client waits: run as jobs, polled at ``GET /jobs/{id}``.

A job lives in this process only (a restart forgets it; the index on disk is the record), and
only the most recent ``keep`` finished jobs are remembered.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from api.errors import ApiError, JobNotFound
from rag.errors import VerbatimError

logger = logging.getLogger("verbatim.api")
JobStatus = Literal["pending", "running", "done", "failed"]


JobStage = Literal["embedding", "writing"]
# What a job's work is given to say how far it got: the stage, and chunks done of the total.
StageReport = Callable[[JobStage, int, int], None]


@dataclass
class Job:
    """One background upload: its state, how far it got, and the upload result or the error once finished."""

    id: str
    status: JobStatus = "pending"
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None

    def report(self, stage: JobStage, done: int, total: int) -> None:
        """Called from the worker thread; one assignment, so a poll never sees half an update."""
        self.progress = {"stage": stage, "chunks_done": done, "chunks_total": total}

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "progress": self.progress, "result": self.result, "error": self.error
        }


class JobRegistry:
    """Starts jobs on the running event loop, ``running`` at a time, and remembers them for polling."""

    def __init__(self, keep: int, running: int) -> None:
        self.keep = keep
        self._running = asyncio.Semaphore(running)  # created in the app, used only on its event loop
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks

    def start(self, work: Callable[[StageReport], Awaitable[dict[str, Any]]]) -> Job:
        """Run ``work(report)`` in the background; ``report`` updates the job's progress."""
        job = Job(id=uuid.uuid4().hex)
        self._jobs[job.id] = job
        self._forget_old()
        task = asyncio.create_task(self._run(job, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str) -> Job:
        """:raises JobNotFound:"""
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r} (finished jobs are forgotten in time, and on a restart)")
        return job

    async def _run(self, job: Job, work: Callable[[StageReport], Awaitable[dict[str, Any]]]) -> None:
        try:
            async with self._running:
                job.status = "running"
                job.result = await work(job.report)
            job.status = "done"
        except (VerbatimError, ApiError) as exc:
            job.error = {"type": type(exc).__name__, "message": str(exc)}
            job.status = "failed"
        except Exception as exc:  # noqa: BLE001 - nobody awaits this task: the job must say it failed
            logger.exception("upload job %s failed", job.id, exc_info=exc)
            job.error = {"type": "InternalError", "message": "internal server error"}
            job.status = "failed"

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.status in ("done", "failed")]
        for job_id in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[job_id]
