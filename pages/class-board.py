"""Alias of the page whose URL path is this file's name, for Streamlit's pages-directory mode; see cvlab/syllabus.py."""

import runpy

runpy.run_path("streamlit_app.py", run_name="__main__")
