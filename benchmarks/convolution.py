"""What a kernel change costs the convolution page: compute, figures and the JSON Streamlit sends, on a 512 px photo.

Each stage is the median of N runs, printed in ms and as a ratio against references measured in the
same run (a bare F.conv2d call; np.copy of the image plus an empty styled figure sent the same way), so
numbers from different machines compare by their ratios. The issue's target is a page rerun under
200 ms for a kernel change on a 512 px image on 2 CPU cores; torch is limited to 2 threads here.
"Sent" means what st.plotly_chart does to a figure: plotly.tools.return_figure_from_figure_or_data
(a deep copy to a dict) and plotly.io.to_json. Streamlit's own rerun overhead and the browser's
drawing are not included: benchmarks/pages.py measures those for whole pages.

Usage: python benchmarks/convolution.py [--runs 20] [--size 512] [--kernel edge] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import plotly.io as pio  # noqa: E402
import plotly.tools  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from skimage.data import camera  # noqa: E402
from skimage.transform import resize  # noqa: E402

from cvlab.cnn.convolution import KERNELS, convolve, step_through  # noqa: E402
from cvlab.cnn.pooling import compare_pooling, translation_invariance  # noqa: E402
from cvlab.viz.convolution import conv_figure, invariance_figure, pooling_figure, step_figure  # noqa: E402
from cvlab.viz.style import styled  # noqa: E402


def median_ms(work: Callable[[], object], runs: int) -> float:
    work()  # warm: first calls allocate and import
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def sent(fig: go.Figure) -> str:
    """The JSON st.plotly_chart puts in its message, made the way Streamlit makes it."""
    return pio.to_json(plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True), validate=False)


def stages(image: np.ndarray, kernel: str) -> dict[str, Callable[[], object]]:
    """The page's work after a kernel change, one stage at a time and then all together."""
    row, col = image.shape[0] // 2, image.shape[1] // 2
    settings = dict(padding=1)
    result = convolve(image, kernel, **settings)
    step = step_through(image, kernel, row, col, **settings)
    feature = np.maximum(result.output, 0)  # (H, W) after ReLU: what the pooling section pools

    def conv_section() -> None:
        res = convolve(image, kernel, **settings)
        stp = step_through(image, kernel, row, col, **settings)
        sent(conv_figure(image, res, stp))
        sent(step_figure(stp))

    def pooling_section() -> None:
        relu = np.maximum(convolve(image, kernel, **settings).output, 0)
        sent(pooling_figure(compare_pooling(relu, 2)))
        sent(invariance_figure(translation_invariance(relu, kernel_size=2, shift_px=1)))

    return {
        f"convolve ({image.shape[0]}x{image.shape[1]}, {kernel}, float64)": lambda: convolve(image, kernel, **settings),
        "step_through (one pixel)": lambda: step_through(image, kernel, row, col, **settings),
        "conv_figure build": lambda: conv_figure(image, result, step),
        "conv_figure sent (copy + JSON)": lambda: sent(conv_figure(image, result, step)),
        "step_figure build + sent": lambda: sent(step_figure(step)),
        "pooling: compare + translation_invariance": lambda: (compare_pooling(feature, 2),
                                                               translation_invariance(feature)),
        "pooling: both figures built + sent": lambda: (sent(pooling_figure(compare_pooling(feature, 2))),
                                                       sent(invariance_figure(translation_invariance(feature)))),
        "= conv section (compute + 2 figures sent)": conv_section,
        "= conv + pooling sections": lambda: (conv_section(), pooling_section()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (camera() is 512)")
    parser.add_argument("--kernel", default="edge", choices=KERNELS.names())
    parser.add_argument("--threads", type=int, default=2, help="torch threads: the issue's target is 2 CPU cores")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = camera() / 255.0  # (512, 512) in [0, 1]
    if args.size != image.shape[0]:
        image = resize(image, (args.size, args.size), anti_aliasing=True)
    weight = torch.from_numpy(KERNELS.get(args.kernel).array)[None, None]
    tensor = torch.from_numpy(image)[None, None]
    references = {
        "F.conv2d alone": median_ms(lambda: F.conv2d(tensor, weight, padding=1), args.runs),
        "np.copy + empty styled figure sent": median_ms(lambda: (np.copy(image), sent(styled(go.Figure()))), args.runs),
    }
    print(f"{args.size}x{args.size} image, kernel {args.kernel!r}, torch {torch.__version__} on "
          f"{torch.get_num_threads()} threads, median of {args.runs} runs\n")
    for name, ms in references.items():
        print(f"reference  {name:<44} {ms:8.2f} ms")
    conv_ref, figure_ref = references.values()
    print(f"\n{'stage':<55} {'ms':>8} {'x F.conv2d':>11} {'x empty fig':>12}")
    for name, work in stages(image, args.kernel).items():
        ms = median_ms(work, args.runs)
        print(f"{name:<55} {ms:8.2f} {ms / conv_ref:11.1f} {ms / figure_ref:12.1f}")
    print("\nTarget: a kernel change reruns the page in under 200 ms (Streamlit's own overhead comes on top).")


if __name__ == "__main__":
    main()
