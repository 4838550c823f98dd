"""Bringing outside artefacts into regsim: OCI image layouts into a registry store or a scenario."""

from .oci_layout import ImportReport, LayoutError, OciLayout, import_image, layer_sizes
from .scenario_image import write_scenario_image

__all__ = ["ImportReport", "LayoutError", "OciLayout", "import_image", "layer_sizes", "write_scenario_image"]
