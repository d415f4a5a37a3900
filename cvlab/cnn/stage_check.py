"""A traced network's real stage shapes set beside what the output-size calculator predicts for it.

Where an architecture names a calculator preset with the same layers (``Architecture.chain_preset``,
the lecture's overview CNN), each stage's real output shape is checked against the calculator's row
for that layer: the arithmetic of the Output size page, confirmed by the network itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvlab.cnn.inside_network import NetworkTrace
from cvlab.sizes.chain import chain_rows, format_shape
from cvlab.sizes.chain_text import PRESETS, parse_chain
from cvlab.zoo.architectures import Architecture


@dataclass(frozen=True)
class StageCheck:
    stage: str  # the stage's module name in the network
    shape: tuple[int, ...]  # its real output, without the batch: (C, H, W), (tokens, features) or (features,)
    from_tokens: bool  # a transformer's (tokens, features)
    layer: str | None  # the calculator's layer at this stage; None without a preset
    calculator: tuple[int, ...] | None  # the calculator's output shape for it
    same: bool | None  # real shape == calculator's; None where there is nothing to compare

    def row(self) -> dict:
        """The stage as a table row for a page or a terminal."""
        output = format_shape(self.shape) + (" (tokens x features)" if self.from_tokens else "")
        entry = {"stage": self.stage, "output (C x H x W)": output}
        if self.calculator is not None:
            entry |= {"layer": self.layer, "calculator": format_shape(self.calculator), "same": self.same}
        return entry


def check_stages(arch: Architecture, trace: NetworkTrace) -> list[StageCheck]:
    """Each traced stage, with the calculator's prediction where ``arch`` names a preset of its layers.

    The overview's stage names are the indices of its Sequential layers, the same positions as the
    calculator's rows counted from 0.
    """
    rows = None
    if arch.chain_preset:
        preset = PRESETS.get(arch.chain_preset)
        rows = chain_rows(preset.input_shape, parse_chain(preset.spec))
    checks = []
    for stage in trace.stages:
        row = rows[int(stage.name)] if rows is not None else None
        predicted = tuple(row.output_shape) if row is not None else None
        checks.append(StageCheck(stage.name, tuple(stage.shape), stage.from_tokens,
                                 row.layer if row is not None else None, predicted,
                                 None if predicted is None else predicted == tuple(stage.shape)))
    return checks
