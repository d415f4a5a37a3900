"""One table helper for every page: what a projected cell shows, and that every table goes through it."""

import re

import pytest

from cvlab.syllabus import REPO_ROOT
from cvlab.ui import MISSING, for_the_room


@pytest.mark.parametrize("value, shown", [
    (None, MISSING), (float("nan"), MISSING),  # the dataframe and the projector say the same: a dash
    (0, "0"), (0.0, "0"), (-0.0, "0"),  # a difference that rounds to nothing is not "-0"
    (138_357_544, "138,357,544"),  # every digit of VGG-16's parameters, grouped
    (2015, "2015"), (4096, "4096"),  # years and layer widths are not grouped
    (187.4, "187"), (0.959, "0.959"), (-0.86, "-0.86"), (12345.6, "12,346"),
    (True, "yes"), (False, "no"),
    ("plain text", "plain text"),
])
def test_a_projected_cell_shows_what_a_room_reads(value, shown):
    assert for_the_room(value) == shown


def test_a_column_groups_all_its_whole_numbers_or_none():
    assert for_the_room(1792, group=True) == "1,792" and for_the_room(36_928, group=False) == "36928"


def test_text_in_a_projected_cell_is_shown_as_typed_not_as_markdown():
    hostile = "![x](http://evil/p.png) [click](http://evil) :red[big] **bold** `code` a_b_c $x$ | #"
    shown = for_the_room(hostile)
    assert re.sub(r"\\(.)", r"\1", shown) == hostile  # nothing lost
    for construct in ("[", "]", "*", "`", "_", "$", "|", "#", ":"):
        assert all(shown[i - 1] == "\\" for i, c in enumerate(shown) if c == construct)


def test_every_table_in_pages_and_the_ui_goes_through_show_table():
    """A table drawn any other way keeps the dataframe's small canvas type on the projector."""
    helper = REPO_ROOT / "cvlab" / "ui" / "__init__.py"
    direct = []
    for path in [*(REPO_ROOT / "pages").rglob("*.py"), *(REPO_ROOT / "cvlab" / "ui").rglob("*.py")]:
        if path == helper:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.(dataframe|table|data_editor)\(", line):
                direct.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not direct, "\n".join(direct)
