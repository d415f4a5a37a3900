"""CV Lab: the backend of an interactive lab for CNN architectures and modeling.

Its packages follow the lecture's subjects, then the machinery:

- ``sizes``: output-size arithmetic and layer chains
- ``cnn``: convolution and pooling by hand, a network traced stage by stage
- ``activations``: activation functions, softmax, the two gradient experiments
- ``zoo``: the architectures compared: counted, timed, scaled, chosen between
- ``detection``, ``segmentation``: YOLO, U-Net and SAM
- ``training``: the training loop, its settings and the run store
- ``jobs``: the queue and worker that training runs and measurements both go through
- ``data``: datasets, uploads and images; ``viz``: plotly figures; ``ui``: the only streamlit code
- ``server``: serving a class (identities, the instructor secret, secure contexts)
- ``commands``: ``python -m cvlab``, a subcommand per capability
- top level: ``settings``, ``errors``, ``registry``, ``device``, ``weights``, ``syllabus``

Importing cvlab is cheap on purpose: torch and the other heavy libraries are
imported by the modules that need them, so a page or a command that does not
use them never pays for them.
"""

__version__ = "0.1.0"
