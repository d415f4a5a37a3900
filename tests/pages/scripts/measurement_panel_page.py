"""The zoo's measurement panel alone, for the segmentation suite."""

from cvlab.ui.zoo import measurement_panel

measurement_panel("segmentation", key="measure_seg")
