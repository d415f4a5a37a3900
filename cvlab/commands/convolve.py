"""``python -m cvlab convolve``: a kernel over a photo, one output pixel worked out, pooling measured."""

from __future__ import annotations

import argparse

from cvlab.commands import COMMANDS, Command
from cvlab.commands._image_arg import add_image_argument, load_image_argument


def _configure(parser: argparse.ArgumentParser) -> None:
    add_image_argument(parser)
    parser.add_argument("--kernel", default="sobel_x", help="a kernel name, or a grid such as '1 0 -1; 2 0 -2; 1 0 -1'")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--padding", default="1", help="pixels per side, or same / valid")
    parser.add_argument("--dilation", type=int, default=1)
    parser.add_argument("--bias", type=float, default=0.0)
    parser.add_argument("--pixel", default=None, help="output pixel to work out, as ROW,COL (default: the centre)")
    parser.add_argument("--pool", type=int, default=2, help="pooling window for the translation check")
    parser.add_argument("--shift", type=int, default=1, help="pixels to shift the image by for that check")


def _run(args: argparse.Namespace) -> dict:
    from cvlab.cnn import convolution
    from cvlab.cnn import pooling
    from cvlab.data.images import to_grayscale
    from cvlab.errors import InvalidInput

    image = load_image_argument(args)
    gray = to_grayscale(image.pixels)
    kernel = convolution.KERNELS.get(args.kernel).array if args.kernel in convolution.KERNELS \
        else convolution.parse_kernel(args.kernel)
    padding = args.padding if args.padding in ("same", "valid") else int(args.padding)
    options = dict(stride=args.stride, padding=padding, dilation=args.dilation, bias=args.bias)
    result = convolution.convolve(gray, kernel, **options)
    h, w = result.output.shape
    try:
        row, col = map(int, args.pixel.split(",")) if args.pixel else (h // 2, w // 2)
    except ValueError:
        raise InvalidInput(f"--pixel {args.pixel!r} should be ROW,COL such as 10,20.") from None
    step = convolution.step_through(gray, kernel, row, col, **options)
    edges = convolution.convolve(gray, "edge", padding=1).output.clip(min=0)
    moved = pooling.translation_invariance(edges, kernel_size=args.pool, shift_px=args.shift)
    return {"image": image.caption, "input_shape": list(gray.shape), "output_shape": [h, w],
            "kernel": kernel.tolist(), "output_min": result.min, "output_max": result.max,
            "step": {"row": row, "col": col, "window": step.window, "products": step.products,
                     "sum": step.total, "bias": step.bias, "output": step.output, "equation": step.equation()},
            "translation": [{"representation": label, "change": change, "unchanged": unchanged}
                            for label, change, unchanged in moved.rows()]}


def _render(data: dict) -> str:
    lines = [data["image"], f"input {data['input_shape'][0]}x{data['input_shape'][1]} -> output "
             f"{data['output_shape'][0]}x{data['output_shape'][1]}, values {data['output_min']:.3f} .. "
             f"{data['output_max']:.3f}", f"pixel ({data['step']['row']}, {data['step']['col']}): "
             f"{data['step']['equation']}", "after a shift (ReLU of the edge map):"]
    lines += [f"  {t['representation']:28s} changes {t['change']:.1%}" for t in data["translation"]]
    return "\n".join(lines)


COMMANDS.register("convolve", Command("convolve", "a kernel over a photo, one output pixel worked out, pooling "
                                      "and translation measured", _configure, _run, _render))
