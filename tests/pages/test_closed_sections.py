"""A page builds only its open section: a closed one computes no figure (its builder is never called)."""

import pytest

from cvlab.ui import convolution as convolution_ui
from cvlab.viz import activations as activations_viz
from cvlab.viz import shapes as shapes_viz
from tests.pages.apptest import run_script

CASES = [  # page, what its first section builds its figures with, another section to open
    ("pages/foundations/inside_cnn.py", convolution_ui, "step_view", "Pooling"),
    ("pages/foundations/output_size.py", shapes_viz, "windows_figure", "Exercises"),
    ("pages/foundations/activations.py", activations_viz, "activation_figure", "Softmax"),
]


@pytest.mark.parametrize("page, module, builder, other", CASES, ids=[case[2] for case in CASES])
def test_a_closed_section_builds_no_figure(monkeypatch, page, module, builder, other):
    calls = []
    original = getattr(module, builder)

    def counted(*args, **kwargs):
        calls.append(builder)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, builder, counted)
    run_script(page, timeout=120)  # the first section open: its figure is built
    opened = len(calls)
    app = run_script(page, timeout=120, section=other)
    assert opened >= 1
    assert len(calls) == opened  # the other section open: not built again
    assert not app.exception
