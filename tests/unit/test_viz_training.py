"""The Training page's figure builders that need no run: class counts."""

from cvlab.viz.training import class_counts


def test_class_counts_draws_one_bar_per_class_in_order_with_the_counts_written():
    fig = class_counts({"circle": 800, "cross": 790, "star": 12})
    bar = fig.data[0]
    assert list(bar.y) == ["circle", "cross", "star"]
    assert list(bar.x) == [800, 790, 12]
    assert list(bar.text) == ["800", "790", "12"]
    assert bar.orientation == "h"


def test_class_counts_grows_with_the_number_of_classes_up_to_a_limit():
    few = class_counts({f"c{i}": 1 for i in range(3)}).layout.height
    many = class_counts({f"c{i}": 1 for i in range(10)}).layout.height
    huge = class_counts({f"c{i}": 1 for i in range(100)}).layout.height
    assert few < many < huge == 600
