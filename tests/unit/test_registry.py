import pytest

from cvlab.errors import CvlabError, UnknownName
from cvlab.registry import Registry


def make() -> Registry[int]:
    registry: Registry[int] = Registry("widget")
    registry.register("relu", 1)
    registry.register("leaky_relu", 2)
    registry.register("gelu", 3)
    return registry


def test_entries_keep_their_order_and_values():
    registry = make()
    assert registry.names() == ["relu", "leaky_relu", "gelu"]
    assert registry.get("gelu") == 3
    assert "relu" in registry and "elu" not in registry
    assert len(registry) == 3


def test_registering_a_name_twice_is_refused():
    registry = make()
    with pytest.raises(ValueError, match="already registered"):
        registry.register("relu", 9)
    assert registry.get("relu") == 1


def test_decorator_form_returns_the_entry():
    registry: Registry = Registry("builder")

    @registry.register("tiny")
    def build_tiny():
        return "built"

    assert registry.get("tiny") is build_tiny
    assert build_tiny() == "built"


def test_unknown_name_lists_every_choice_and_suggests_close_ones():
    with pytest.raises(UnknownName) as caught:
        make().get("leaky_rel")
    message = str(caught.value)
    assert "Unknown widget 'leaky_rel'" in message
    assert "Did you mean 'leaky_relu'" in message
    assert "relu, leaky_relu, gelu" in message
    assert isinstance(caught.value, CvlabError) and isinstance(caught.value, LookupError)


@pytest.mark.parametrize("bad", ["", None, 3])
def test_names_must_be_non_empty_strings(bad):
    with pytest.raises(ValueError):
        Registry("thing").register(bad, 1)
