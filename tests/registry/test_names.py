import pytest
from hypothesis import given
from hypothesis import strategies as st

from regsim.registry.errors import NameInvalid, TagInvalid
from regsim.registry.names import MAX_NAME_LENGTH, validate_name, validate_tag


@pytest.mark.parametrize("name", ["alpine", "library/alpine", "a/b/c", "my-app", "my__app", "a.b_c-d", "x9/y-1"])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name,fragment",
    [
        ("", "empty"),
        ("../etc", "'..'"),
        ("a/../b", "'..'"),
        ("./a", "'.'"),
        ("Library/alpine", "lowercase"),
        ("a//b", "empty path component"),
        ("/abs", "empty path component"),
        ("trailing/", "empty path component"),
        ("-lead", "must be lowercase letters"),
        ("a___b", "must be lowercase letters"),
        ("a_", "must be lowercase letters"),
        ("_layers", "must be lowercase letters"),
        ("sp ace", "must be lowercase letters"),
        ("x" * (MAX_NAME_LENGTH + 1), "limit"),
    ],
)
def test_invalid_names_say_why(name, fragment):
    with pytest.raises(NameInvalid) as info:
        validate_name(name)
    assert fragment.strip("'") in str(info.value)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A" * 128, "1"])
def test_valid_tags(tag):
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".hidden", "-x", "a" * 129, "a/b", "a:b", "sha256:abc"])
def test_invalid_tags(tag):
    with pytest.raises(TagInvalid):
        validate_tag(tag)


@given(st.from_regex(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*){0,3}", fullmatch=True))
def test_grammar_names_are_accepted(name):
    if len(name) <= MAX_NAME_LENGTH:
        assert validate_name(name) == name


@given(st.text(max_size=40))
def test_parser_never_crashes_and_accepts_only_safe_names(text):
    try:
        validate_name(text)
    except NameInvalid:
        return
    assert ".." not in text.split("/") and not text.startswith("/") and text == text.lower()
