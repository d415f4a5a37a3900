"""Segmentation benchmarks: the default U-Net preset on the shapes masks, and SAM's encoder vs decoder.

    python benchmarks/segmentation.py                  # both parts, on CPU (and on the GPU when there is one)
    python benchmarks/segmentation.py --part sam --clicks 30 --models mobile_sam sam_b
    python benchmarks/segmentation.py --part unet

U-Net: trains the segmentation task's default recipe (TrainConfig.for_task("segment")) through
the training engine, as the page's run does, and prints the validation IoU after each epoch and
the wall time (the target: IoU >= 0.9 within a few CPU minutes).

SAM: on one photo, in the same run, times the bare model calls (the image encoder; the prompt
encoder + mask decoder at their own 256x256 output) against what a click on the page costs:
the facade's ``segment`` (image hash, cache lookup, lock, upsampling to the image, threshold) and
the page's drawing (overlays and PNGs). It prints each time and its ratio to the bare decoder.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from cvlab.data.images import load_sample  # noqa: E402
from cvlab.segmentation import sam, sam_backend  # noqa: E402
from cvlab.viz.segmentation import mask_overlay  # noqa: E402


def train_unet_preset(seed: int = 0) -> None:
    """The Segmentation page's default run, through the training engine and a run folder as the page's."""
    import tempfile

    from cvlab.training import runs
    from cvlab.training.config import TrainConfig
    from cvlab.training.engine import train_run

    config = TrainConfig.for_task("segment", seed=seed)
    print(f"U-Net recipe: {config.model}/{config.encoder}, {config.loss}, {config.image_size} px, "
          f"{config.limit} scenes, batch {config.batch_size}, {config.epochs} epochs, {config.optimizer} "
          f"{config.lr:g} {config.scheduler}; torch threads: {torch.get_num_threads()}")
    start = time.perf_counter()

    def show(record: dict) -> None:
        if record["kind"] == "epoch":
            print(f"epoch {record['epoch']}: val loss {record['val_loss']:.4f}  val IoU {record['val_iou']:.4f}  "
                  f"val Dice {record['val_dice']:.4f}  after {time.perf_counter() - start:.1f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="cvlab-unet-") as scratch:
        summary = train_run(runs.RunStore(Path(scratch)).create(config, "benchmark"), on_record=show)
    verdict = "reached" if (summary.get("val_iou") or 0) >= 0.9 else "MISSED"
    print(f"U-Net recipe {verdict} val IoU >= 0.9: {summary.get('val_iou') or 0:.4f} (Dice "
          f"{summary.get('val_dice') or 0:.4f}) in {time.perf_counter() - start:.1f} s, {summary['status']}\n")


def _median_ms(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _bare_decoder(module, embedding, coords, labels):
    """Prompt encoder + mask decoder only, as ultralytics' predictor calls them (SAM family)."""
    with torch.inference_mode():
        sparse, dense = module.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        return module.mask_decoder(image_embeddings=embedding, image_pe=module.prompt_encoder.get_dense_pe(),
                                   sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                   multimask_output=True)


def _page_click(model: sam.SamModel, pixels, prompt: sam.SamPrompt) -> None:
    """What one click costs on the page: the facade, the overlays it draws, and the PNG that
    streamlit-image-coordinates encodes (compress level 0). Download PNGs are made only on demand."""
    result = model.segment(pixels, prompt)
    for mask in result.masks:
        mask_overlay(pixels, mask)
    overlay = mask_overlay(pixels, result.masks[result.best], prompt.points, prompt.box)
    Image.fromarray(overlay).save(io.BytesIO(), format="PNG", compress_level=0)


def time_sam(name: str, device: str, clicks: int, image_name: str) -> None:
    pixels = load_sample(image_name, 1024).pixels
    model = sam.build_sam_model(name, device=device)
    module, dev = model._module, model.device
    height, width = pixels.shape[:2]
    prompt = sam.SamPrompt(points=((width * 0.5, height * 0.5, True),))
    scale = sam_backend.resize_scale(height, width)
    coords = torch.tensor([[[width * 0.5 * scale, height * 0.5 * scale]]], device=dev)
    labels = torch.ones(1, 1, dtype=torch.int32, device=dev)
    sam_backend.encode(module, model.variant.family, pixels, dev)  # warm-up (kernels, allocator)
    encoder_ms = _median_ms(lambda: sam_backend.encode(module, model.variant.family, pixels, dev), 3)
    first_click_ms = _median_ms(lambda: model.segment(pixels, prompt), 1)  # encodes: nothing cached yet
    facade_ms = _median_ms(lambda: model.segment(pixels, prompt), clicks)
    page_ms = _median_ms(lambda: _page_click(model, pixels, prompt), clicks)
    print(f"{model.variant.display_name} on {device} ({'random' if model.weights.random else 'real'} weights), "
          f"{image_name} {width}x{height} px, median of {clicks} clicks")
    rows = [("image encoder, bare (once per image)", encoder_ms), ("first click: encoder + decoder", first_click_ms),
            ("click, facade segment (embedding cached)", facade_ms), ("click, page work (facade + drawing)", page_ms)]
    if model.variant.family == "sam":
        embedding = model._embeddings[next(reversed(model._embeddings))][0]
        bare_ms = _median_ms(lambda: _bare_decoder(module, embedding, coords, labels), clicks)
        rows.insert(1, ("prompt encoder + mask decoder, bare", bare_ms))
        reference = bare_ms
    else:
        reference = facade_ms
    for label, ms in rows:
        print(f"  {label:<44} {ms:9.1f} ms   x{ms / reference:6.2f} of the bare decoder")
    print(f"  encoder calls: {model.encoder_calls} (one warm-up outside the facade does not count)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "unet", "sam"), default="all")
    parser.add_argument("--models", nargs="+", default=["mobile_sam"])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--image", default="chelsea")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.part in ("all", "sam"):
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in devices:
            for name in args.models:
                time_sam(name, device, args.clicks, args.image)
    if args.part in ("all", "unet"):
        train_unet_preset()


if __name__ == "__main__":
    main()
