"""The example plugin's own tests: run them with `pytest examples/drid-plugin-example/tests`."""

from __future__ import annotations

import numpy as np
import pytest
from drid_color_regions import ColorRegions

from drid import ConfigError, Frame
from drid.testing import check_plugin


def test_it_is_a_working_drid_detector():
    report = check_plugin(ColorRegions)
    assert report.roles == ("detect",) and report.built
    assert report.parameters == ("hue_min", "hue_max", "min_saturation", "min_value", "min_area", "label")


def test_its_parameters_are_checked_in_python_as_in_a_config():
    with pytest.raises(ConfigError, match=r"hue_max \(2\) is below hue_min \(5\)"):
        ColorRegions(hue_max=2)
    with pytest.raises(ConfigError, match=r"params\.hue: unknown parameter"):
        ColorRegions(hue=10)


def test_it_finds_an_orange_square():
    image = np.full((100, 100, 3), 255, np.uint8)
    image[20:60, 30:70] = (0, 128, 255)  # BGR orange: hue 15
    (found,) = ColorRegions(label="orange").drid_detect(Frame(index=0, image=image))
    assert found.label == "orange"
    assert (found.box.x1, found.box.y1, found.box.x2, found.box.y2) == (30, 20, 70, 60)
