"""The lecture path and the pages that make it interactive, as data.

The app's navigation and the home page's lecture path are both drawn from this
file: a page listed here is in both, and every topic links to the section of a page that shows it.

Page scripts live one folder down (``pages/<group>/<page>.py``), and directly in
``pages/`` there is only one small alias per page, named after its URL path. The
reason is Streamlit's older pages-directory mode: it is on for the first script
run of a server process when ``pages/`` exists, and that run resolves the URL
against the files directly in ``pages/``. Each alias just runs the app's entry,
so the first visitor after a restart who opens a deep link gets the whole app
(no "page not found" dialog, no page without its sidebar); after that first run
``st.navigation`` turns the old mode off for good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PageInfo:
    script: str  # path from the repository root
    title: str
    icon: str  # a Material Symbols name, as st.Page takes it
    group: str  # navigation section
    url_path: str
    summary: str


@dataclass(frozen=True)
class Stop:
    """Where a topic becomes interactive: a page, one of its sections, preset settings."""

    page: str  # a PAGES key
    section: str  # the tab label, given to the page as ?section= (a link without one opens the first tab)
    params: dict[str, str] = field(default_factory=dict)  # more query parameters
    label: str = ""  # what this stop shows, when a topic has several


@dataclass(frozen=True)
class Topic:
    title: str
    summary: str
    stops: tuple[Stop, ...]


PAGES: dict[str, PageInfo] = {
    p.url_path: p
    for p in (
        PageInfo("pages/start/home.py", "Home", ":material/home:", "Start", "home",
                 "What the lab offers and the lecture path."),
        PageInfo("pages/foundations/output_size.py", "Output size", ":material/straighten:", "Foundations",
                 "output-size",
                 "Conv, pool and transposed-conv arithmetic; build and verify layer chains."),
        PageInfo("pages/foundations/inside_cnn.py", "Inside a CNN", ":material/filter_center_focus:", "Foundations",
                 "inside-cnn",
                 "Convolution, pooling and feature maps on real images; Grad-CAM."),
        PageInfo("pages/foundations/activations.py", "Activations", ":material/show_chart:", "Foundations",
                 "activations",
                 "Activation functions, their gradients, softmax, dying ReLU, vanishing gradients."),
        PageInfo("pages/architectures/architecture_zoo.py", "Architectures", ":material/account_tree:",
                 "Architectures", "architectures",
                 "VGG to Swin: parameters, FLOPs, accuracy and latency measured here."),
        PageInfo("pages/training/live_training.py", "Training", ":material/model_training:", "Training", "training",
                 "Live fine-tuning with optimizers, schedulers and a shared job queue."),
        PageInfo("pages/tasks/detection.py", "Detection", ":material/center_focus_strong:", "Tasks", "detection",
                 "YOLO inference, IoU and NMS step by step, custom training."),
        PageInfo("pages/tasks/segmentation.py", "Segmentation", ":material/blur_on:", "Tasks", "segmentation",
                 "U-Net training, the loss explorer and SAM prompts."),
        PageInfo("pages/teaching/exercises.py", "Exercises", ":material/quiz:", "Class", "exercises",
                 "Quick exercises that check themselves, with hints; the class's answers for the instructor."),
        PageInfo("pages/teaching/class_board.py", "Class board", ":material/leaderboard:", "Class", "class-board",
                 "Every student's runs of a lab exercise on one chart, and the class's answer."),
    )
}

# The lecture's topics, in the lecture's order.
LECTURE_PATH: tuple[Topic, ...] = (
    Topic("CNN overview", "From a 224x224x3 image to 1000 class probabilities.",
          (Stop("inside-cnn", "Through a network"),
           Stop("output-size", "Layer chain", {"preset": "overview"}, "shapes"))),
    Topic("Convolution", "A kernel slides over the image: y[i,j] = sum x[i+m, j+n] k[m,n] + b.",
          (Stop("inside-cnn", "Convolution"),)),
    Topic("Output size", "floor((W - K + 2P) / S) + 1, its worked examples and exercises.",
          (Stop("output-size", "Single layer", {"p": "1"}, "calculator"),  # 32x32, K=3, P=1, S=1: the first example
           Stop("output-size", "Worked examples", label="worked examples"),
           Stop("output-size", "Exercises", label="exercises"),
           Stop("exercises", "Lecture", label="exercises that check themselves"))),
    Topic("Pooling", "Max, average and global average pooling; translation invariance.",
          (Stop("inside-cnn", "Pooling", label="on images"),
           Stop("output-size", "Single layer", {"layer": "maxpool"}, "arithmetic"))),
    Topic("Fully connected layers", "Dense heads, and why global average pooling replaced most of them.",
          (Stop("inside-cnn", "Conv vs dense", label="conv vs dense, and GAP"),
           Stop("output-size", "Layer chain", {"preset": "vgg16"}, "parameters"))),
    Topic("Activation functions", "ReLU, LeakyReLU, sigmoid, softmax, GELU and their gradients.",
          (Stop("activations", "Functions", label="functions"), Stop("activations", "Softmax", label="softmax"),
           Stop("activations", "Dying ReLU", label="dying ReLU"),
           Stop("activations", "Vanishing gradients", label="vanishing gradients"))),
    Topic("VGG-16", "Only 3x3 convolutions, channels doubling after each pool, ~138M parameters.",
          (Stop("output-size", "Layer chain", {"preset": "vgg16"}, "feature stack"),
           Stop("architectures", "Compare", {"fam": "VGG"}, "VGG family"))),
    Topic("ResNet", "Skip connections y = F(x) + x; ResNet-18 to 152.",
          (Stop("output-size", "Layer chain", {"preset": "resnet-stem"}, "stem"),
           Stop("architectures", "Compare", {"fam": "ResNet"}, "ResNet-18 to 152"),
           Stop("architectures", "Lecture claims", label="its table, checked"))),
    Topic("EfficientNet", "Compound scaling of depth, width and resolution.",
          (Stop("architectures", "Compound scaling", label="compound scaling"),
           Stop("architectures", "Lecture claims", label="B0 against ResNet-50"))),
    Topic("Vision Transformer", "Images as 16x16 patch tokens with self-attention.",
          (Stop("architectures", "ViT vs Swin", label="patches and attention cost"),)),
    Topic("ConvNeXt and Swin", "A modernised CNN and a hierarchical, shifted-window transformer.",
          (Stop("architectures", "ViT vs Swin", label="windows"),
           Stop("architectures", "Choose", label="which architecture when"),
           Stop("exercises", "Lecture", label="choose the architecture: A-C"))),
    Topic("YOLO", "Single-shot detection from v3 to v11 and later.",
          (Stop("detection", "Detect", label="boxes on your pictures"),
           Stop("detection", "NMS step by step", label="NMS step by step"),
           Stop("detection", "IoU", label="IoU and GIoU"))),
    Topic("U-Net", "Encoder, bottleneck, decoder and skip connections for segmentation.",
          (Stop("segmentation", "U-Net", {"unet_enc": "resnet34"}, "the architecture, ResNet-34 encoder"),
           Stop("segmentation", "Train a U-Net", label="train one"))),
    Topic("Segment Anything", "A heavy image encoder once, a light prompt decoder per click.",
          (Stop("segmentation", "Segment Anything", label="prompts"),)),
    Topic("Loss functions", "BCE, cross-entropy, Dice, IoU and focal loss.",
          (Stop("segmentation", "Loss explorer", label="loss explorer"),)),
    Topic("Optimizers", "SGD with momentum, Adam, AdamW, per-layer learning rates.",
          (Stop("training", "New run", {"opt": "adamw", "lr": "0.001", "wd": "0.01"}, "AdamW, as on the slide"),)),
    Topic("Learning-rate schedulers", "StepLR, cosine, OneCycle, plateau, warmup + cosine.",
          (Stop("training", "New run", {"opt": "adamw", "lr": "0.001", "wd": "0.01", "sched": "cosine"},
                "AdamW + cosine, the advice"),)),
    Topic("The training loop", "train/eval modes, gradient clipping, validation without gradients.",
          (Stop("training", "New run", {"clip": "1.0"}, "clipping at max_norm=1.0"),
           Stop("training", "Live", label="a run, live"))),
    Topic("Hands-on lab", "VGG-like vs residual on CIFAR-10, fine-tuning EfficientNet-B0, YOLO inference.",
          (Stop("training", "New run", label="lab exercises"),
           Stop("class-board", "VGG-like vs residual", label="the class board"),
           Stop("detection", "Detect", label="YOLO inference")))
)


@dataclass(frozen=True)
class WalkStop:
    """One stop of the lecture presented as a walk-through, numbered from 1 in the lecture's order."""

    number: int
    topic: Topic
    stop: Stop

    @property
    def title(self) -> str:
        what = self.stop.label or self.stop.section
        return self.topic.title if what == self.topic.title else f"{self.topic.title}: {what}"

    @property
    def query(self) -> dict[str, str]:
        """The stop's page opens at its section and the lecture's own settings with these query parameters."""
        return {"section": self.stop.section, **self.stop.params}


WALK_THROUGH: tuple[WalkStop, ...] = tuple(
    WalkStop(number, topic, stop)
    for number, (topic, stop) in enumerate(((t, s) for t in LECTURE_PATH for s in t.stops), start=1)
)


def walk_stop(requested: str | None) -> tuple[WalkStop, str]:
    """The stop an address asks for (``?stop=N``), and why another was taken ("" when none was).

    The number comes from a shared address, so anything may be in it: a missing or unreadable one
    opens the first stop, one outside 1..N the nearest end.
    """
    last = len(WALK_THROUGH)
    text = (requested or "").strip()
    if not text:
        return WALK_THROUGH[0], ""
    try:
        number = int(text)
    except ValueError:
        return WALK_THROUGH[0], f"The address's stop is not a whole number: this is stop 1 of {last}."
    if 1 <= number <= last:
        return WALK_THROUGH[number - 1], ""
    nearest = 1 if number < 1 else last
    return WALK_THROUGH[nearest - 1], f"The lecture has stops 1 to {last} only: this is stop {nearest}."
