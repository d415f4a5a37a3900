"""A bare page with one image picker, for tests/pages/test_image_picker.py."""

import streamlit as st

from cvlab.ui.image_picker import image_picker

image = image_picker()
st.markdown("The rest of the page still runs.")
if image is None:
    st.info("Choose an image above.")
    st.stop()
st.image(image.pixels, width=200)
st.markdown(f"picked `{image.name}` shape `{image.pixels.shape}`")
