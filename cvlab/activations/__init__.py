"""Activation functions: the registry with each function's teaching facts, softmax, and two live experiments.

- ``functions``: the ``ACTIVATIONS`` registry; values and slopes through autograd
- ``softmax``: softmax with a temperature over logits a person types
- ``experiments``: dying ReLU units and vanishing gradients, run live
"""
