"""Students' answers to the exercises, per user, and the instructor's "reveal the solution" switches.

One SQLite file in the data home (``exercises.sqlite3``), in WAL mode so a class answering at
once never blocks the instructor's live view; each call opens its own connection (Streamlit
sessions are threads). A user has one row per exercise: the first answer (what the class
view's bars count: the slip a student made before any hint), the latest, whether it is right
and the number of attempts. Only parsed answers are stored (canonical and short), and the
store is bounded: at most ``MAX_USERS`` users and ``MAX_EXERCISES_PER_USER`` exercises each.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cvlab.errors import CvlabError, InvalidInput
from cvlab.exercise_model import MAX_ANSWER_CHARS, Exercise
from cvlab.settings import Settings, get_settings

MAX_USERS = 5_000  # a few large classes on one server
MAX_EXERCISES_PER_USER = 200  # the lecture's and 30-odd practice sets; with MAX_USERS, about 100 MB at most
MAX_OWNER_ID_CHARS = 256  # login ids are "login:<issuer>|<subject>"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    owner_id TEXT NOT NULL, exercise_id TEXT NOT NULL,
    first_answer TEXT NOT NULL, first_correct INTEGER NOT NULL,
    latest_answer TEXT NOT NULL, correct INTEGER NOT NULL, attempts INTEGER NOT NULL,
    first_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (owner_id, exercise_id));
CREATE INDEX IF NOT EXISTS answers_by_exercise ON answers (exercise_id);
CREATE TABLE IF NOT EXISTS reveals (exercise_id TEXT PRIMARY KEY, revealed_at REAL NOT NULL);
"""


class NotInstructor(CvlabError, PermissionError):
    """Only the instructor may reveal a solution to the class."""


@dataclass(frozen=True)
class StoredAnswer:
    exercise_id: str
    latest_answer: str
    correct: bool
    attempts: int
    first_answer: str


@dataclass(frozen=True)
class WrongAnswer:
    answer: str
    count: int  # students whose first answer it was
    hint: str  # the slip it points to ("" when no known slip gives it)


@dataclass(frozen=True)
class ClassSummary:
    exercise_id: str
    answered: int  # students who answered at all
    right: int  # students whose latest answer is right
    right_first_time: int
    wrong_answers: tuple[WrongAnswer, ...]  # first answers that were wrong, most common first
    revealed: bool


class AnswerStore:
    def __init__(self, path: Path | None = None, settings: Settings | None = None):
        self.path = Path(path or (settings or get_settings()).data_home / "exercises.sqlite3")

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10.0)  # waits for a writer instead of failing
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            with connection:  # one transaction: committed on success, rolled back on an error
                yield connection
        finally:
            connection.close()

    # ---- a student's side ----
    def record(self, owner_id: str, exercise: Exercise, typed: object) -> tuple[StoredAnswer, str]:
        """Check ``typed`` against ``exercise`` and keep it as this user's answer; (the stored row, the hint)."""
        _check_owner(owner_id)
        verdict = exercise.check(typed)  # refuses junk before anything is written
        answer, now = verdict.given[:MAX_ANSWER_CHARS], time.time()
        with self._connection() as db:
            row = db.execute("SELECT attempts FROM answers WHERE owner_id = ? AND exercise_id = ?",
                             (owner_id, exercise.exercise_id)).fetchone()
            if row is None:
                self._check_room(db, owner_id)
                db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
                           (owner_id, exercise.exercise_id, answer, verdict.correct, answer, verdict.correct, now,
                            now))
            else:
                db.execute("UPDATE answers SET latest_answer = ?, correct = ?, attempts = attempts + 1, "
                           "updated_at = ? WHERE owner_id = ? AND exercise_id = ?",
                           (answer, verdict.correct, now, owner_id, exercise.exercise_id))
        stored = self.answer(owner_id, exercise.exercise_id)
        assert stored is not None
        return stored, verdict.hint

    def _check_room(self, db: sqlite3.Connection, owner_id: str) -> None:
        mine = db.execute("SELECT COUNT(*) FROM answers WHERE owner_id = ?", (owner_id,)).fetchone()[0]
        if mine >= MAX_EXERCISES_PER_USER:
            raise InvalidInput(f"You have answered {mine} exercises, the most one user may keep here; earlier "
                               "answers stay, and you can still change them.")
        if mine == 0:
            users = db.execute("SELECT COUNT(DISTINCT owner_id) FROM answers").fetchone()[0]
            if users >= MAX_USERS:
                raise InvalidInput(f"The answer store is full ({users} users); ask the instructor to clear it.")

    def answer(self, owner_id: str, exercise_id: str) -> StoredAnswer | None:
        with self._connection() as db:
            row = db.execute("SELECT exercise_id, latest_answer, correct, attempts, first_answer FROM answers "
                             "WHERE owner_id = ? AND exercise_id = ?", (owner_id, exercise_id)).fetchone()
        return None if row is None else StoredAnswer(row[0], row[1], bool(row[2]), row[3], row[4])

    def answers_of(self, owner_id: str) -> dict[str, StoredAnswer]:
        """Every answer of one user by exercise id: one query for a page of exercises."""
        with self._connection() as db:
            rows = db.execute("SELECT exercise_id, latest_answer, correct, attempts, first_answer FROM answers "
                              "WHERE owner_id = ?", (owner_id,)).fetchall()
        return {row[0]: StoredAnswer(row[0], row[1], bool(row[2]), row[3], row[4]) for row in rows}

    # ---- the class ----
    def overview(self) -> list[dict]:
        """One row per answered exercise: how many answered, are right now, were right first time."""
        with self._connection() as db:
            rows = db.execute("SELECT exercise_id, COUNT(*) AS n, SUM(correct), SUM(first_correct) FROM answers "
                              "GROUP BY exercise_id ORDER BY n DESC, exercise_id").fetchall()
        return [{"exercise": exercise_id, "answered": n, "right": right, "right first time": first}
                for exercise_id, n, right, first in rows]

    def answered_exercises(self) -> list[tuple[str, int]]:
        """(exercise id, students who answered it), most answered first."""
        return [(row["exercise"], row["answered"]) for row in self.overview()]

    def class_summary(self, exercise: Exercise) -> ClassSummary:
        with self._connection() as db:
            rows = db.execute("SELECT first_answer, first_correct, correct FROM answers WHERE exercise_id = ?",
                              (exercise.exercise_id,)).fetchall()
            revealed = db.execute("SELECT 1 FROM reveals WHERE exercise_id = ?",
                                  (exercise.exercise_id,)).fetchone() is not None
        wrong = Counter(first for first, first_correct, _ in rows if not first_correct)
        bars = tuple(WrongAnswer(answer, count, exercise.slip(answer))
                     for answer, count in sorted(wrong.items(), key=lambda item: (-item[1], item[0])))
        return ClassSummary(exercise.exercise_id, len(rows), sum(bool(r[2]) for r in rows),
                            sum(bool(r[1]) for r in rows), bars, revealed)

    # ---- revealing a solution ----
    def set_revealed(self, exercise: Exercise, revealed: bool, *, instructor: bool) -> None:
        if not instructor:
            raise NotInstructor("Only the instructor may reveal a solution to the class: type the instructor "
                                "secret first.")
        with self._connection() as db:
            if revealed:
                db.execute("INSERT OR REPLACE INTO reveals VALUES (?, ?)", (exercise.exercise_id, time.time()))
            else:
                db.execute("DELETE FROM reveals WHERE exercise_id = ?", (exercise.exercise_id,))

    def revealed(self) -> frozenset[str]:
        """The exercises whose solution the instructor has revealed to everyone."""
        with self._connection() as db:
            return frozenset(row[0] for row in db.execute("SELECT exercise_id FROM reveals"))


def _check_owner(owner_id: object) -> None:
    if not isinstance(owner_id, str) or not owner_id:
        raise InvalidInput("Answers are kept per user: log in (or allow this site's cookie) to answer.")
    if len(owner_id) > MAX_OWNER_ID_CHARS:
        raise InvalidInput("That user id is too long to keep answers for.")
