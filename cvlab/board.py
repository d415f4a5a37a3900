"""The class board: every student's runs of one lab exercise side by side, and the class's answer to its question.

The Training page records which lab exercise a run belongs to (``exercise`` in run.json, one
of the ``LAB_EXERCISES`` tags) when one of its exercise buttons starts it. A board gathers the
runs of one tag that have trained at least one epoch, with their validation accuracy per epoch
and wall time, and answers the exercise's question from each student's finished runs: per
student who ran both arms, the challenger's final accuracy minus the baseline's; for three
arms, which one ended highest for each student.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate
from typing import Callable, Sequence

from cvlab.jobs.status import RunStatus
from cvlab.registry import Registry
from cvlab.training.runs import RunInfo, read_metrics

METRIC = "val_accuracy"  # every lab exercise is a classification run
SHOWN = (RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.INTERRUPTED)


@dataclass(frozen=True)
class LabExercise:
    tag: str
    title: str  # as the Training page's button names it
    question: str
    arm_field: str  # the TrainConfig field its runs differ in ("" for a single recipe)
    baseline: str = ""  # two-arm exercises: the question asks whether `challenger` beats `baseline`
    challenger: str = ""

    def arm(self, info: RunInfo) -> str:
        return str(getattr(info.config, self.arm_field)) if self.arm_field else "fine-tuned"


LAB_EXERCISES: Registry[LabExercise] = Registry("lab exercise")
for _exercise in (
    LabExercise("vgg-vs-residual", "VGG-like vs residual", "Does the residual version win? By how much?", "model",
                "lecture-vgg", "lecture-residual"),
    LabExercise("fine-tune-efficientnet", "Fine-tune EfficientNet-B0",
                "How far does a fine-tuned pretrained EfficientNet-B0 get, and how fast?", ""),
    LabExercise("optimizers", "SGD vs Adam vs AdamW", "Which optimizer ends highest in the same epochs?", "optimizer"),
    LabExercise("schedulers", "Step vs cosine vs OneCycle", "Which schedule ends highest in the same epochs?",
                "scheduler"),
):
    LAB_EXERCISES.register(_exercise.tag, _exercise)


def tag_for_title(title: str) -> str:
    """The tag of the exercise the Training page's button ``title`` starts ("" when it is none)."""
    return next((tag for tag, exercise in LAB_EXERCISES.items() if exercise.title == title), "")


@dataclass(frozen=True)
class BoardRun:
    run_id: str
    owner: str  # the name typed beside the run
    owner_id: str
    arm: str  # e.g. "lecture-residual", "adamw"
    status: str
    settings: str  # the recipe in one line
    epochs: tuple[int, ...]
    accuracy: tuple[float, ...]  # validation accuracy (0-1) after each epoch
    wall_s: tuple[float, ...]  # training seconds up to the end of each epoch
    created: float

    @property
    def final_accuracy(self) -> float | None:
        return self.accuracy[-1] if self.accuracy else None

    @property
    def time_s(self) -> float:
        return self.wall_s[-1] if self.wall_s else 0.0


@dataclass(frozen=True)
class ArmResult:
    arm: str
    finished_runs: int
    median_accuracy: float | None
    median_time_s: float | None  # training time to the last epoch
    wins: int  # students (of those who ran two or more arms) for whom this arm ended highest


@dataclass(frozen=True)
class ClassAnswer:
    summary: str  # the question answered in one or two sentences
    students: int  # students with a finished run
    compared: int  # students who finished two or more arms
    arms: tuple[ArmResult, ...]
    differences: tuple[float, ...]  # two-arm exercises: challenger minus baseline, per student, in points


@dataclass(frozen=True)
class Board:
    exercise: LabExercise
    runs: tuple[BoardRun, ...]  # oldest first
    answer: ClassAnswer


def _recipe(info: RunInfo) -> str:
    c = info.config
    return f"{c.model}, {c.optimizer} lr {c.lr:g}, {c.scheduler}, {c.epochs} epochs, batch {c.batch_size}, {c.data}"


def board_run(exercise: LabExercise, info: RunInfo, records: list[dict]) -> BoardRun:
    epochs = [r for r in records if r.get("kind") == "epoch" and isinstance(r.get(METRIC), (int, float))]
    return BoardRun(info.run_id, info.owner, info.owner_id, exercise.arm(info), info.status, _recipe(info),
                    tuple(int(r.get("epoch", i + 1)) for i, r in enumerate(epochs)),
                    tuple(float(r[METRIC]) for r in epochs),
                    tuple(accumulate(float(r.get("seconds", 0.0) or 0.0) for r in epochs)), info.created)


def exercise_board(tag: str, infos: Sequence[RunInfo],
                   metrics: Callable[[RunInfo], list[dict]] = lambda info: read_metrics(info.run_dir)) -> Board:
    """The board of exercise ``tag`` from a run listing (``RunStore().list()`` or the app's cached one)."""
    exercise = LAB_EXERCISES.get(tag)
    tagged = [i for i in infos if i.record.get("exercise") == tag and i.status in SHOWN]
    runs = [board_run(exercise, info, metrics(info)) for info in sorted(tagged, key=lambda i: i.created)]
    runs = [run for run in runs if run.accuracy]
    return Board(exercise, tuple(runs), class_answer(exercise, runs))


def _points(value: float) -> str:
    return f"{value * 100:+.1f} points"


def class_answer(exercise: LabExercise, runs: Sequence[BoardRun]) -> ClassAnswer:
    """Each student's newest finished run per arm, compared within the student, then across the class."""
    newest: dict[str, dict[str, BoardRun]] = defaultdict(dict)
    for run in sorted((r for r in runs if r.status == RunStatus.FINISHED), key=lambda r: r.created):
        newest[run.owner_id or run.owner][run.arm] = run
    arms = sorted({arm for per_student in newest.values() for arm in per_student})
    wins: dict[str, int] = defaultdict(int)
    compared = [per_student for per_student in newest.values() if len(per_student) >= 2]
    for per_student in compared:
        wins[max(per_student.values(), key=lambda r: r.final_accuracy).arm] += 1
    results = tuple(ArmResult(arm, sum(arm in s for s in newest.values()),
                              _median([s[arm].final_accuracy for s in newest.values() if arm in s]),
                              _median([s[arm].time_s for s in newest.values() if arm in s]), wins[arm])
                    for arm in arms)
    differences = tuple(s[exercise.challenger].final_accuracy - s[exercise.baseline].final_accuracy
                        for s in newest.values() if exercise.baseline in s and exercise.challenger in s)
    return ClassAnswer(_summary(exercise, len(newest), compared, results, differences), len(newest), len(compared),
                       results, differences)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _summary(exercise: LabExercise, students: int, compared: list, arms: tuple[ArmResult, ...],
             differences: tuple[float, ...]) -> str:
    if not students:
        return "No finished runs yet: the class's answer appears as runs finish."
    if exercise.baseline:
        if not differences:
            return (f"{students} student(s) finished runs, but none has finished both {exercise.baseline} and "
                    f"{exercise.challenger} yet.")
        won = sum(d > 0 for d in differences)
        return (f"{exercise.challenger} beat {exercise.baseline} for {won} of the {len(differences)} student(s) who "
                f"ran both: by {_points(statistics.median(differences))} in the median (from "
                f"{_points(min(differences))} to {_points(max(differences))}).")
    medians = ", ".join(f"{a.arm} {a.median_accuracy:.1%}" for a in arms)
    if not exercise.arm_field:
        [arm] = arms
        return (f"{students} student(s) finished: {arm.median_accuracy:.1%} final accuracy in the median, after "
                f"{arm.median_time_s:.0f} s of training.")
    if not compared:
        return f"{students} student(s) finished; median final accuracy: {medians}."
    ranking = ", ".join(f"{a.arm} for {a.wins}" for a in sorted(arms, key=lambda a: -a.wins) if a.wins)
    return (f"Of the {len(compared)} student(s) who finished two or more, the highest final accuracy came from "
            f"{ranking}. Median final accuracy: {medians}.")


def board_rows(board: Board, me: str = "") -> list[dict]:
    """The board's table: one row per run, best final accuracy first, the asker's own marked "you"."""
    ranked = sorted(board.runs, key=lambda run: -run.final_accuracy)
    return [{"student": f"{run.owner} (you)" if me and run.owner_id == me else run.owner, "arm": run.arm,
             "final accuracy %": round(run.final_accuracy * 100, 2), "epochs": run.epochs[-1],
             "time s": round(run.time_s, 1), "status": run.status, "settings": run.settings, "run": run.run_id}
            for run in ranked]
