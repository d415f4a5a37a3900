"""Inside a CNN: convolution and pooling worked by hand on real images, and a real network traced.

- ``convolution``: named and typed kernels, one conv layer on an image, one output pixel worked out
- ``pooling``: max, average and global average pooling, and how much each changes when the image shifts
- ``inside_network``: a network's feature maps per stage, the GAP vector, logits, top-5 and Grad-CAM
- ``stage_check``: a traced network's stage shapes beside what the output-size calculator predicts
"""
