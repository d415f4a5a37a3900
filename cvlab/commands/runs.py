"""``python -m cvlab runs``: list, watch and change training runs; ``python -m cvlab worker``: serve the queue.

The command line acts as the operating-system account that runs it: it may change the runs
that account started. ``--instructor`` asks for the instructor secret (from
CVLAB_INSTRUCTOR_SECRET, else a prompt that does not echo), never from an argument, since
every user of the server can read a process's arguments with ``ps``. The folders are the real
boundary here: an account that may write the runs folder may change any run with a file
manager, so on a shared server only the app's own account should be able to write it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import time
from pathlib import Path

from cvlab.commands import COMMANDS, Command, text_table

ACTIONS = ("list", "show", "pause", "resume", "stop", "lr", "delete", "export", "queue", "move", "cancel")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, nargs="?", default="list")
    parser.add_argument("run_id", nargs="?", help="the run's id (its folder name)")
    parser.add_argument("value", nargs="?", type=float, help="the new learning rate, for `lr`")
    parser.add_argument("--to", choices=("front", "up"), default="front",
                        help="for `move` (instructor only): to the front of the queue, or one place up")
    parser.add_argument("--script", type=Path, metavar="OUT.py",
                        help="for `export`: the run as a standalone PyTorch script (no CV Lab needed)")
    parser.add_argument("--notebook", type=Path, metavar="OUT.ipynb",
                        help="for `export`: the run as a Jupyter notebook (the script's code, explained)")
    parser.add_argument("--instructor", action="store_true",
                        help="change anyone's run: the secret is read from CVLAB_INSTRUCTOR_SECRET, else asked for")


def _run(args: argparse.Namespace):
    from cvlab.server.access import account_id
    from cvlab.training import runs

    store = runs.RunStore()
    if args.action == "list":
        return [_row(info) for info in store.list()]
    if args.action == "queue":  # every waiting run, in the order they will start
        from cvlab.jobs.fair_queue import queue_entries

        return [_queue_row(entry) for entry in queue_entries(store)]
    if not args.run_id:
        raise _missing("a run id")
    user = account_id()  # the account running this, from the password database: $USER is anyone's to set
    instructor = args.instructor and _instructor_secret_checked()
    if args.action == "show":
        info = store.info(args.run_id)
        return {**_row(info), "config": info.config.to_dict(), "record": info.record,
                "metrics": runs.read_metrics(info.run_dir)[-5:]}
    if args.action == "resume":
        from cvlab.training.lifecycle import resume

        return resume(store, args.run_id, user, instructor)
    if args.action in ("move", "cancel"):
        from cvlab.jobs import fair_queue

        if args.action == "cancel":
            return fair_queue.cancel(store, args.run_id, user, instructor)
        return [_queue_row(entry) for entry in fair_queue.move(store, args.run_id, args.to, instructor)]
    if args.action == "delete":
        store.delete(args.run_id, user, instructor)
        return {"deleted": args.run_id}
    if args.action == "export" and (args.script or args.notebook):
        from dataclasses import asdict

        from cvlab.training.export import export_run

        return asdict(export_run(args.run_id, script=args.script, notebook=args.notebook, store=store))
    if args.action == "export":
        from cvlab.training.evaluation import export_onnx

        return {"onnx": str(export_onnx(store.info(args.run_id).run_dir))}
    if args.action == "lr" and args.value is None:
        raise _missing("the new learning rate")
    change = {"pause": {"pause": True}, "stop": {"stop": True}, "lr": {"lr": args.value}}[args.action]
    return store.request(args.run_id, user, instructor, **change)


WRONG_SECRET_DELAY_S = 3.0  # as login programs do: a script cannot try secrets quickly


def _instructor_secret_checked() -> bool:
    """The instructor, from a terminal: only the account that owns the runs folder (the server's own, or root),
    since any other account chooses its own environment and secrets file; the secret is typed at a prompt."""
    from cvlab.errors import InvalidInput
    from cvlab.server.access import WrongSecret, configured_instructor_secret, secret_matches, weak_secret_problem
    from cvlab.settings import get_settings

    settings = get_settings()
    runs_dir = settings.runs_dir
    owner = runs_dir.stat().st_uid if runs_dir.exists() else os.geteuid()
    if os.geteuid() not in (0, owner):
        raise InvalidInput(f"Instructor actions from the command line run as the account that owns {runs_dir} (the "
                           "server's own); from any other account, use the instructor box on the Training page.")
    secret = configured_instructor_secret(settings)
    if not secret:
        raise InvalidInput("No instructor secret is configured: set cvlab_instructor_secret in "
                           ".streamlit/secrets.toml or CVLAB_INSTRUCTOR_SECRET in the server's environment.")
    if weak_secret_problem(secret):
        raise InvalidInput(weak_secret_problem(secret))
    typed = getpass.getpass("Instructor secret: ")
    if not secret_matches(typed, secret):
        time.sleep(WRONG_SECRET_DELAY_S)
        raise WrongSecret("That is not the instructor secret; nothing was changed.")
    return True


def _missing(what: str):
    from cvlab.errors import InvalidInput

    return InvalidInput(f"This action needs {what}: python -m cvlab runs ACTION RUN_ID [VALUE].")


def _row(info) -> dict:
    """One run in the list: its task's headline figure (accuracy, IoU or mAP@0.5) under one column name."""
    from cvlab.training.tasks import task_spec

    spec = task_spec(info.config.task)
    figure = info.record.get(f"final_{spec.headline}")
    figure = figure if isinstance(figure, (int, float)) else None  # an unreadable record may hold anything
    return {"run_id": info.run_id, "owner": info.owner, "status": info.status, "task": info.config.task,
            "model": info.config.model, "data": info.config.data,
            "epochs": f"{info.epochs_done}/{info.config.epochs}", "result": spec.metrics[0].label,
            "value": None if figure is None else round(figure, 4)}


def _queue_row(entry) -> dict:
    return {"position": entry.position, "run_id": entry.run_id, "owner": entry.owner, "task": entry.task,
            "model": entry.model, "epochs": entry.epochs, "starts_in_s": entry.estimated_start_s,
            "moved": "by the instructor" if entry.moved else ""}


def _render(result) -> str:
    if isinstance(result, list):
        return text_table(result) if result else "nothing listed (no runs, or none waiting)"
    return "\n".join(f"{key:<14}{value}" for key, value in result.items() if key not in ("record", "metrics"))


def _worker(args: argparse.Namespace):
    from cvlab.jobs.queue import huey_and_task
    from cvlab.jobs.worker import run_worker

    run_worker(huey_and_task()[0], args.threads)
    return {"stopped": True}


COMMANDS.register("runs", Command(
    "runs", "list training runs; pause, resume, stop, change the learning rate, delete, export to ONNX (or with "
    "--script/--notebook, as a standalone PyTorch script or Jupyter notebook); the "
    "queue in its order, cancel a waiting run, move one (instructor)",
    _configure, _run, _render))
COMMANDS.register("worker", Command(
    "worker", "serve the training job queue (CVLAB_QUEUE_URL) until interrupted",
    lambda p: p.add_argument("--threads", type=int, default=None,
                             help="jobs at once (default: CVLAB_JOBS_PER_DEVICE per GPU, or per CPU)"),
    _worker, lambda result: "worker stopped"))
