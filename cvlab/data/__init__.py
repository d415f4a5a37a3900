"""Data for the lab: sample photos, uploaded images, and (later) datasets, all loadable offline."""
