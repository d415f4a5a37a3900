"""The board's chart and the instructor's wrong-answer bars, checked on the figures' data."""

from cvlab.board import BoardRun
from cvlab.exercise_answers import ClassSummary, WrongAnswer
from cvlab.viz.board import board_figure
from cvlab.viz.exercises import wrong_answers_figure


def run(owner: str, arm: str, accuracy: tuple[float, ...]) -> BoardRun:
    epochs = tuple(range(1, len(accuracy) + 1))
    return BoardRun(f"r-{owner}-{arm}", owner, f"browser:{owner}", arm, "finished", "", epochs, accuracy,
                    tuple(3.0 * e for e in epochs), 0.0)


def test_the_viewers_runs_are_drawn_last_thick_and_named_you():
    runs = [run("alice", "vgg", (0.5, 0.6)), run("bob", "vgg", (0.4, 0.7)), run("bob", "res", (0.5, 0.8))]
    fig = board_figure(runs, me="browser:alice")
    assert [t.name for t in fig.data] == ["bob · vgg", "bob · res", "you · vgg"]
    you = fig.data[-1]
    assert you.line.width == 5 and you.opacity == 1 and fig.data[0].line.width < 5 and fig.data[0].opacity < 1
    assert fig.data[0].line.color == you.line.color != fig.data[1].line.color  # colour by arm
    by_time = board_figure(runs, x="time")
    assert list(by_time.data[0].x) == [3.0, 6.0] and by_time.layout.xaxis.title.text == "training time (s)"


def test_wrong_answer_bars_most_common_first_with_their_slip():
    summary = ClassSummary("lecture-1", 6, 2, 1, (WrongAnswer("61x61", 3, "You forgot the +1: because"),
                                                   WrongAnswer("40x40", 1, "")), False)
    fig = wrong_answers_figure(summary)
    assert list(fig.data[0].y) == ["61x61 · forgot the +1", "40x40"] and list(fig.data[0].x) == [3, 1]
    assert fig.layout.xaxis.range[1] > 3  # room for the count written beside the longest bar
    assert "4 of 6" in fig.layout.title.text
