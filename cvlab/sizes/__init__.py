"""Output sizes: the arithmetic of conv, pooling and transposed-conv layers, and chains of them.

- ``arithmetic``: output size of one layer, exactly as PyTorch computes it (and what it refuses)
- ``working``: the worked steps behind one output size, and the lecture's examples and exercises
- ``chain``: a layer chain's shape, parameters, MACs and receptive field after every layer
- ``chain_text``: the text form of a chain (``conv(16,k=3,p=1) | maxpool(k=2)``) and the preset chains
- ``frameworks``: a chain as PyTorch or Keras code, and checked against real PyTorch layers

Pure Python except ``frameworks``, which imports torch only to check.
"""
