"""Where a job stands: one ``RunStatus`` for training runs and zoo measurements alike.

A ``StrEnum``, so run.json and job.json keep the same text ("queued", "running"...) and a
status read back from a file compares equal to its member. The groups the code asks about
are named sets on it: ``ACTIVE`` (holds or waits for a device), ``ENDED``, and ``PINNING``
(the run will read its data again, so its upload is never dropped).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"  # waiting in the job queue
    RUNNING = "running"  # a worker holds it
    PAUSED = "paused"  # held by its worker, or waiting for Resume with its device given back ("released")
    STOPPED = "stopped"  # ended by its owner, the instructor or its time budget; what it trained is kept
    FINISHED = "finished"
    FAILED = "failed"  # ended by an error; the reason says what
    INTERRUPTED = "interrupted"  # shown, never written: "running" or held "paused" with its worker gone
    UNREADABLE = "unreadable"  # shown, never written: run.json's settings are refused (after an upgrade)


RunStatus.ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED})
RunStatus.ENDED = frozenset({RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FAILED, RunStatus.INTERRUPTED,
                             RunStatus.UNREADABLE})
RunStatus.PINNING = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.INTERRUPTED})
RunStatus.RESUMABLE = frozenset({RunStatus.PAUSED, RunStatus.INTERRUPTED, RunStatus.STOPPED, RunStatus.FAILED})
RunStatus.TRAINING = frozenset({RunStatus.RUNNING, RunStatus.PAUSED})  # a worker holds it, or held it last
