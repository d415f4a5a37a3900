"""``python -m cvlab runs``: list, watch and change training runs; ``python -m cvlab worker``: serve the queue."""

from __future__ import annotations

import argparse
import getpass

from cvlab.commands import COMMANDS, Command, text_table

ACTIONS = ("list", "show", "pause", "resume", "stop", "lr", "delete", "export")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, nargs="?", default="list")
    parser.add_argument("run_id", nargs="?", help="the run's id (its folder name)")
    parser.add_argument("value", nargs="?", type=float, help="the new learning rate, for `lr`")
    parser.add_argument("--instructor-secret", default="", help="the server's instructor secret, to change any run")


def _run(args: argparse.Namespace):
    from cvlab.access import account_id
    from cvlab.settings import get_settings
    from cvlab.training import runs

    store = runs.RunStore()
    if args.action == "list":
        return [_row(info) for info in store.list()]
    if not args.run_id:
        raise _missing("a run id")
    user = account_id()  # the account running this, from the password database: $USER is anyone's to set
    secret = get_settings().instructor_secret
    instructor = bool(secret) and args.instructor_secret == secret
    if args.action == "show":
        info = store.info(args.run_id)
        return {**_row(info), "config": info.config.to_dict(), "record": info.record,
                "metrics": runs.read_metrics(info.run_dir)[-5:]}
    if args.action == "resume":
        from cvlab.training.lifecycle import resume

        return resume(store, args.run_id, user, instructor)
    if args.action == "delete":
        store.delete(args.run_id, user, instructor)
        return {"deleted": args.run_id}
    if args.action == "export":
        from cvlab.training.evaluation import export_onnx

        return {"onnx": str(export_onnx(store.info(args.run_id).run_dir))}
    if args.action == "lr" and args.value is None:
        raise _missing("the new learning rate")
    change = {"pause": {"pause": True}, "stop": {"stop": True}, "lr": {"lr": args.value}}[args.action]
    return store.request(args.run_id, user, instructor, **change)


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


def _render(result) -> str:
    if isinstance(result, list):
        return text_table(result) if result else "no runs yet"
    return "\n".join(f"{key:<14}{value}" for key, value in result.items() if key not in ("record", "metrics"))


def _worker(args: argparse.Namespace):
    from cvlab.training.worker import run_worker

    run_worker(args.threads)
    return {"stopped": True}


COMMANDS.register("runs", Command(
    "runs", "list training runs; pause, resume, stop, change the learning rate, delete, export to ONNX",
    _configure, _run, _render))
COMMANDS.register("worker", Command(
    "worker", "serve the training job queue (CVLAB_QUEUE_URL) until interrupted",
    lambda p: p.add_argument("--threads", type=int, default=None,
                             help="jobs at once (default: CVLAB_JOBS_PER_DEVICE per GPU, or per CPU)"),
    _worker, lambda result: "worker stopped"))
