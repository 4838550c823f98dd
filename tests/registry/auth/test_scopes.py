"""The scope grammar of the token spec, the grant rule, and the access-claim form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.auth import Scope, ScopeInvalid, parse_scopes
from regsim.registry.auth.scopes import format_scopes, granted_actions, pattern_matches


def test_parses_repository_scope():
    s = Scope.parse("repository:team-a/app:pull,push")
    assert (s.type, s.name, s.actions, s.cls) == ("repository", "team-a/app", frozenset({"pull", "push"}), None)
    assert str(s) == "repository:team-a/app:pull,push"


def test_parses_catalog_wildcard_and_resource_class():
    assert Scope.parse("registry:catalog:*").actions == {"*"}
    s = Scope.parse("repository(plugin):vendor/tool:pull")
    assert (s.type, s.cls, s.type_label) == ("repository", "plugin", "repository(plugin)")
    assert str(s) == "repository(plugin):vendor/tool:pull"


def test_name_may_start_with_a_hostname_and_port():
    s = Scope.parse("repository:localhost:5000/team/app:pull")
    assert s.name == "localhost:5000/team/app"


@pytest.mark.parametrize("text, fragment", [
    ("repository:app", "type:name:actions"),
    ("repository", "type:name:actions"),
    ("Repository:app:pull", "resource type"),
    ("repository::pull", "resource name is empty"),
    ("repository:App:pull", "resource name"),
    ("repository:team//app:pull", "resource name"),
    ("repository:team/../app:pull", "resource name"),
    ("repository:app:", "action ''"),
    ("repository:app:pull,,push", "action ''"),
    ("repository:app:PULL", "action 'PULL'"),
    ("repository:" + "a" * 300 + ":pull", "limit is 255"),
])
def test_rejects_malformed_scopes_saying_why(text, fragment):
    with pytest.raises(ScopeInvalid) as info:
        Scope.parse(text)
    assert fragment in str(info.value)


def test_parse_scopes_splits_on_spaces_and_merges_same_resource():
    scopes = parse_scopes(["repository:a:pull repository:b:pull", "repository:a:push"])
    assert [str(s) for s in scopes] == ["repository:a:pull,push", "repository:b:pull"]
    assert parse_scopes("") == []


def test_grant_is_the_intersection_and_allowed_star_covers_all():
    assert granted_actions(frozenset({"pull", "push"}), frozenset({"pull"})) == {"pull"}
    assert granted_actions(frozenset({"pull", "push"}), frozenset({"*"})) == {"pull", "push"}
    assert granted_actions(frozenset({"*"}), frozenset({"pull", "push"})) == frozenset()
    assert granted_actions(frozenset({"delete"}), frozenset()) == frozenset()


def test_claim_round_trip_and_malformed_claims():
    s = Scope.parse("repository(plugin):x/y:push,pull")
    claim = s.to_claim()
    assert claim == {"type": "repository", "name": "x/y", "actions": ["pull", "push"], "class": "plugin"}
    assert Scope.from_claim(claim) == s
    for bad in ["x", {"type": "repository", "name": "a"}, {"type": "repository", "name": "a", "actions": "pull"},
                {"type": 1, "name": "a", "actions": []}, {"type": "Repo", "name": "a", "actions": []},
                {"type": "repository", "name": "A", "actions": ["pull"]}]:
        with pytest.raises(ScopeInvalid):
            Scope.from_claim(bad)


def test_patterns_are_globs_spanning_slashes():
    assert pattern_matches("team-a/*", "team-a/app")
    assert pattern_matches("team-a/*", "team-a/x/y")
    assert not pattern_matches("team-a/*", "team-b/app")
    assert not pattern_matches("team-a/*", "team-a")
    assert pattern_matches("exact/name", "exact/name")


# -- properties -------------------------------------------------------------------------------

_component = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4}){0,2}", fullmatch=True)
_name = st.lists(_component, min_size=1, max_size=4).map("/".join)
_actions = st.sets(st.sampled_from(["pull", "push", "delete", "*", "mount"]), min_size=1)
_type = st.sampled_from(["repository", "registry", "repository(plugin)"])


@settings(max_examples=150, deadline=None)
@given(_type, _name, _actions)
def test_valid_scopes_round_trip_through_text_and_claims(rtype, name, actions):
    text = f"{rtype}:{name}:{','.join(sorted(actions))}"
    scope = Scope.parse(text)
    assert str(scope) == text
    assert Scope.parse(str(scope)) == scope
    assert Scope.from_claim(scope.to_claim()) == scope
    assert parse_scopes(format_scopes([scope, scope])) == [scope]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parser_only_ever_raises_scope_invalid(text):
    try:
        scopes = parse_scopes(text)
    except ScopeInvalid:
        return
    for s in scopes:  # anything accepted re-parses to itself
        assert Scope.parse(str(s)) == s


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_name, _actions), min_size=1, max_size=5))
def test_merging_unites_actions_per_resource(pairs):
    texts = [f"repository:{n}:{','.join(sorted(a))}" for n, a in pairs]
    merged = {s.name: s.actions for s in parse_scopes(" ".join(texts))}
    expected: dict[str, set[str]] = {}
    for n, a in pairs:
        expected.setdefault(n, set()).update(a)
    assert merged == expected
