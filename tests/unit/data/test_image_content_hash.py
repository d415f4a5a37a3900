"""One content hash of an image: bytes, shape and dtype, computed once when the image is decoded."""

from __future__ import annotations

import pickle

import numpy as np

from cvlab.data import image_decoding
from cvlab.data.images import load_sample, pixels_hash


def test_same_bytes_in_another_shape_or_dtype_hash_differently():
    data = np.arange(12, dtype=np.uint8)
    assert pixels_hash(data.reshape(3, 4)) != pixels_hash(data.reshape(4, 3))
    assert pixels_hash(data.view(np.int8)) != pixels_hash(data)
    assert pixels_hash(data.reshape(3, 4)) == pixels_hash(data.reshape(3, 4).copy())
    assert pixels_hash(np.asfortranarray(data.reshape(3, 4))) == pixels_hash(data.reshape(3, 4))


def test_a_loaded_image_carries_its_hash_and_keeps_it_through_a_cache_copy(monkeypatch):
    image = load_sample("chelsea", 64)
    assert image.content_hash == pixels_hash(image.pixels)
    calls = []
    monkeypatch.setattr(image_decoding, "pixels_hash", lambda p: calls.append(1) or "recomputed")
    copy = pickle.loads(pickle.dumps(image))  # what st.cache_data hands back on every rerun
    assert copy.content_hash == image.content_hash and calls == []


def test_segment_anything_keys_embeddings_on_the_same_hash():
    from cvlab.segmentation.sam import EncodedImage

    pixels = load_sample("chelsea", 64).pixels
    encoded = EncodedImage(f"mobile_sam:{pixels_hash(pixels)}", 0.1, False, embedding=object())
    assert encoded.matches("mobile_sam", pixels)
    assert not encoded.matches("mobile_sam", pixels[:, ::-1])
