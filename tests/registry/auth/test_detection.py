"""The detection rules on explicit series: each fires exactly when it should (learning period,
window boundaries, re-arming, partial grants as refusals, subjects apart), plus properties."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.auth import (Access, AuditEvent, ConcurrentUse, DeniedBurst, Detector, NewSourceNetwork,
                                  SecurityAlert, network_of)
from regsim.registry.auth.detection import ALERT_RULES, MAX_NETWORKS, MAX_PAIRS, access_of

A, B, C = "10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"


def granted(t: float, network: str = A, subject: str = "alice", action: str = "pull") -> Access:
    return Access(t, subject, network, "granted", action)


def refused(t: float, subject: str = "alice", outcome: str = "denied", network: str = A) -> Access:
    return Access(t, subject, network, outcome, "push")


def run(rule, accesses) -> list[tuple[float, SecurityAlert]]:
    """(time of the access, alert) for every alert ``rule`` raises over ``accesses``."""
    state: dict = {}
    return [(a.time, alert) for a in accesses if (alert := rule.check(state, a)) is not None]


def times(rule, accesses) -> list[float]:
    return [t for t, _ in run(rule, accesses)]


# -- network_of ---------------------------------------------------------------------------------

@pytest.mark.parametrize("address, network", [
    ("203.0.113.7", "203.0.113.0/24"),
    ("  10.1.2.3 ", "10.1.2.0/24"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("[2001:db8::1]", "2001:db8::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("::ffff:198.51.100.9", "198.51.100.0/24"),  # an IPv4 client on a dual-stack socket
    ("::1", "::/64"),
])
def test_network_of(address, network):
    assert network_of(address) == network


def test_network_of_other_prefixes():
    assert network_of("203.0.113.7", v4_prefix=16) == "203.0.0.0/16"
    assert network_of("203.0.113.7", v4_prefix=32) == "203.0.113.7/32"
    assert network_of("2001:db8:aa:bb::1", v6_prefix=48) == "2001:db8:aa::/48"


@pytest.mark.parametrize("bad", ["", "not-an-address", "10.0.0.0/24", "300.1.1.1", "10.0.0.1:5000", None, 10])
def test_network_of_names_bad_input(bad):
    with pytest.raises(ValueError, match="not an IP address") as e:
        network_of(bad)
    assert repr(bad) in str(e.value)


@pytest.mark.parametrize("kw", [{"v4_prefix": 33}, {"v4_prefix": -1}, {"v6_prefix": 129}, {"v6_prefix": 6.5},
                                {"v4_prefix": True}])
def test_network_of_checks_prefixes(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        network_of("10.0.0.1", **kw)


# -- parameters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: NewSourceNetwork(min_history=0), "min_history must be a whole number >= 1"),
    (lambda: NewSourceNetwork(min_history=2.5), "min_history"),
    (lambda: NewSourceNetwork(level="info"), "level must be one of 'warning', 'critical'"),
    (lambda: DeniedBurst(count=0), "denied-scope-burst: count must be a whole number >= 1, got 0"),
    (lambda: DeniedBurst(count=True), "count"),
    (lambda: DeniedBurst(window=0), "window must be a positive, finite number of seconds, got 0"),
    (lambda: DeniedBurst(window=float("inf")), "window"),
    (lambda: DeniedBurst(window="60"), "window"),
    (lambda: ConcurrentUse(window=-5), "concurrent-credential-use: window"),
    (lambda: ConcurrentUse(level="CRITICAL"), "level"),
    (lambda: ConcurrentUse(name=""), "name"),
    (lambda: Detector([object()]), "needs a name and a check"),
    (lambda: Detector(max_alerts=0), "max_alerts"),
])
def test_parameters_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_rules_and_alerts_are_frozen_values():
    rule = DeniedBurst()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.count = 3  # type: ignore[misc]
    assert [r.name for r in (NewSourceNetwork(), DeniedBurst(), ConcurrentUse())] == list(ALERT_RULES)
    assert (NewSourceNetwork().level, DeniedBurst().level, ConcurrentUse().level) == ("warning", "critical",
                                                                                      "critical")
    assert (NewSourceNetwork().min_history, DeniedBurst().count, DeniedBurst().window,
            ConcurrentUse().window) == (10, 20, 60.0, 300.0)


# -- new-source-network -------------------------------------------------------------------------

def test_new_network_after_the_learning_period():
    rule = NewSourceNetwork(min_history=3)
    series = [granted(0), granted(1), granted(2), granted(3, B), granted(4, B), granted(5, C), granted(6, A)]
    alerts = run(rule, series)
    assert [t for t, _ in alerts] == [3, 5]  # B and C are new once 3 granted accesses were seen; once each
    first = alerts[0][1]
    assert (first.rule, first.level, first.subject) == ("new-source-network", "warning", "alice")
    assert B in first.message and "3 earlier granted accesses" in first.message and A in first.message


def test_networks_seen_while_learning_are_known():
    rule = NewSourceNetwork(min_history=3)
    assert times(rule, [granted(0), granted(1, B), granted(2), granted(3, B), granted(4, C)]) == [4]


def test_exactly_min_history_accesses_then_a_new_network():
    assert times(NewSourceNetwork(min_history=2), [granted(0), granted(1, B)]) == []
    assert times(NewSourceNetwork(min_history=2), [granted(0), granted(1), granted(2, B)]) == [2]


def test_refusals_are_not_history_and_raise_nothing():
    rule = NewSourceNetwork(min_history=2)
    series = [refused(0), refused(1), refused(2), granted(3), refused(4, network=B), refused(5, network=C),
              granted(6), granted(7, B)]
    assert times(rule, series) == [7]  # refusals neither counted as history nor alerted on


def test_partial_grants_are_history_and_can_alert():
    rule = NewSourceNetwork(min_history=2)
    series = [Access(0, "alice", A, "partial"), Access(1, "alice", A, "partial"), Access(2, "alice", B, "partial")]
    assert times(rule, series) == [2]


def test_new_network_subjects_apart_and_anonymous_or_unknown_ignored():
    rule = NewSourceNetwork(min_history=1)
    series = [granted(0), granted(1, B, subject="bob"), granted(2, B, subject="bob"),
              granted(3, "", subject="alice"), granted(4, B, subject="anonymous"), granted(5, C, subject="anonymous")]
    assert times(rule, series) == []
    assert times(rule, series + [granted(6, C, subject="bob")]) == [6]


# -- denied-scope-burst -------------------------------------------------------------------------

def test_burst_fires_when_the_window_holds_more_than_count():
    rule = DeniedBurst(count=3, window=10)
    alerts = run(rule, [refused(t) for t in (0, 1, 2, 3, 4, 5)])
    assert [t for t, _ in alerts] == [3]  # the fourth in the window fires; the rest are the same burst
    alert = alerts[0][1]
    assert (alert.rule, alert.level, alert.subject) == ("denied-scope-burst", "critical", "alice")
    assert "4 refused accesses within 3 s" in alert.message and "more than 3 in 10 s" in alert.message


def test_burst_window_boundary():
    rule = DeniedBurst(count=3, window=10)
    assert times(rule, [refused(t) for t in (0, 1, 2, 10)]) == []  # 0 is exactly a window before 10: outside
    assert times(rule, [refused(t) for t in (0, 1, 2, 9.999)]) == [9.999]


def test_burst_rearms_when_the_window_empties_to_count():
    rule = DeniedBurst(count=3, window=10)
    assert times(rule, [refused(t) for t in range(30)]) == [3]  # one refusal a second: one long burst
    assert times(rule, [refused(t) for t in (0, 1, 2, 3, 20, 21, 22, 23)]) == [3, 23]
    # at 12 the window before it holds {3} (2 is exactly 10 s before): re-armed; at 13, 3 has left
    # it again, so the fourth in a window is the refusal at 13.5
    assert times(rule, [refused(t) for t in (0, 1, 2, 3, 12, 12.5, 13, 13.5)]) == [3, 13.5]


def test_partial_grants_count_as_refusals_grants_do_not():
    rule = DeniedBurst(count=2, window=10)
    series = [refused(0, outcome="partial"), granted(1), refused(2, outcome="unauthorized"), granted(3),
              refused(4, outcome="denied")]
    assert times(rule, series) == [4]
    assert times(rule, [granted(t) for t in range(10)]) == []


def test_anonymous_challenges_are_not_refusals_but_anonymous_denials_are():
    rule = DeniedBurst(count=2, window=10)
    assert times(rule, [refused(t, "anonymous", "unauthorized") for t in range(10)]) == []
    assert times(rule, [refused(t, "anonymous", "denied") for t in range(3)]) == [2]


def test_burst_subjects_apart():
    rule = DeniedBurst(count=3, window=10)
    series = [refused(t, subject) for t in range(3) for subject in ("alice", "bob", "carol")]
    assert times(rule, series) == []
    assert [a.subject for _, a in run(rule, series + [refused(3, "bob")])] == ["bob"]


def test_burst_state_forgets_idle_subjects():
    rule, state = DeniedBurst(count=3, window=10), {}
    for i in range(1000):
        rule.check(state, refused(i, f"user{i}"))
    assert len(state["subjects"]) <= 11  # only subjects refused within the last window are kept
    rule.check(state, refused(5000, "alice"))
    assert list(state["subjects"]) == ["alice"]
    assert state["subjects"]["alice"].times.maxlen == 4  # count + 1 times per subject at most


def test_times_that_run_backwards_count_as_simultaneous():
    rule = DeniedBurst(count=2, window=10)
    assert times(rule, [refused(5), refused(4.9), refused(4.8)]) == [4.8]


# -- concurrent-credential-use ------------------------------------------------------------------

def test_two_networks_within_the_window():
    rule = ConcurrentUse(window=300)
    alerts = run(rule, [granted(0, A), granted(299.5, B)])
    assert [t for t, _ in alerts] == [299.5]
    alert = alerts[0][1]
    assert (alert.rule, alert.level, alert.subject) == ("concurrent-credential-use", "critical", "alice")
    assert A in alert.message and B in alert.message and "299.5 s earlier" in alert.message
    assert times(rule, [granted(0, A), granted(300, B)]) == []  # exactly a window apart: not at once


def test_once_per_pair_episode():
    rule = ConcurrentUse(window=300)
    episode = [granted(t, net) for t, net in ((0, A), (10, B), (20, A), (30, B), (300, A), (310, B), (600, A))]
    assert times(rule, episode) == [10]  # overlaps keep coming less than 300 s apart: one episode
    assert times(rule, episode + [granted(1000, A), granted(1010, B)]) == [10, 1010]
    # B goes on alone after the first overlap (at 200 it still overlaps A at 0); A comes back when
    # the pair's last overlap is 450 s old: a new episode
    alone = [granted(t, net) for t, net in ((0, A), (10, B), (200, B), (400, B), (600, B), (650, A))]
    assert times(rule, alone) == [10, 650]


def test_a_third_network_is_a_new_pair():
    rule = ConcurrentUse(window=300)
    alerts = run(rule, [granted(0, A), granted(1, B), granted(2, C), granted(3, A), granted(4, C)])
    assert [t for t, _ in alerts] == [1, 2]
    assert A in alerts[1][1].message and B in alerts[1][1].message  # C overlaps both: one alert names both


def test_concurrent_ignores_refusals_same_network_anonymous_and_other_subjects():
    rule = ConcurrentUse(window=300)
    assert times(rule, [granted(0, A), refused(1, network=B), granted(2, A), granted(3, A)]) == []
    assert times(rule, [granted(0, A, "anonymous"), granted(1, B, "anonymous")]) == []
    assert times(rule, [granted(0, A, "alice"), granted(1, B, "bob")]) == []
    assert times(rule, [granted(0, A), granted(1, "")]) == []
    assert times(rule, [granted(0, A), Access(1, "alice", B, "partial")]) == [1]


def test_concurrent_state_forgets_idle_subjects_and_networks():
    rule, state = ConcurrentUse(window=10), {}
    for i in range(500):
        rule.check(state, granted(i, f"10.0.{i % 7}.0/24", subject=f"user{i}"))
    assert len(state["subjects"]) <= 11
    for i in range(100):
        rule.check(state, granted(1000 + 20 * i, f"10.9.{i}.0/24", subject="roamer"))
    assert len(state["subjects"]["roamer"].networks) == 1
    fired = 0
    for i in range(3000):  # one credential from a botnet: the state stays capped
        fired += rule.check(state, granted(5000 + i / 1000, f"10.{i // 250}.{i % 250}.0/24", "stolen")) is not None
    entry = state["subjects"]["stolen"]
    assert len(entry.networks) == MAX_NETWORKS and len(entry.episodes) == MAX_PAIRS and fired == 2999


# -- the detector -------------------------------------------------------------------------------

def test_detector_applies_every_rule_with_state_of_its_own():
    detector = Detector([NewSourceNetwork(min_history=2), DeniedBurst(count=1, window=10), ConcurrentUse(window=60)])
    fired = [detector.observe(a) for a in (granted(0), granted(1), granted(2, B), refused(3), refused(4))]
    assert [[a.rule for a in f] for f in fired] == [[], [], ["new-source-network", "concurrent-credential-use"],
                                                    [], ["denied-scope-burst"]]
    assert [a.rule for a in detector.alerts] == ["new-source-network", "concurrent-credential-use",
                                                 "denied-scope-burst"]
    detector.reset()
    assert detector.alerts == [] and detector.observe(granted(5, C)) == []


def test_detector_defaults_and_bounded_alerts():
    detector = Detector(max_alerts=3)
    assert [r.name for r in detector.rules] == list(ALERT_RULES)
    alerts = detector.observe_all(refused(t, f"user{t // 21}") for t in range(21 * 5))
    assert len(alerts) == 5 and len(detector.alerts) == 3 and detector.alerts == alerts[-3:]


def test_detector_takes_any_rule_with_a_name_and_check():
    @dataclasses.dataclass(frozen=True)
    class Pushes:
        name: str = "push"

        def check(self, state, access):
            if "push" in access.action and access.outcome == "granted":
                return SecurityAlert(access.time, self.name, "warning", access.subject, "a push")
            return None

    assert [a.rule for a in Detector([Pushes()]).observe_all([granted(0), granted(1, action="pull,push")])] == \
        ["push"]


def test_access_of_audit_events():
    event = AuditEvent(5.0, "jwt", "alice", "granted", "token x", "repository:team/app:pull,push", "pull,push",
                       "203.0.113.7")
    assert access_of(event) == Access(5.0, "alice", "203.0.113.0/24", "granted", "pull,push")
    assert access_of(dataclasses.replace(event, remote=None)).network == ""
    assert access_of(dataclasses.replace(event, remote="testclient")).network == "testclient"
    assert access_of(dataclasses.replace(event, scope=None)).action == ""
    assert access_of(dataclasses.replace(event, outcome="issued")) is None
    assert access_of(event, v4_prefix=16).network == "203.0.0.0/16"


# -- properties ---------------------------------------------------------------------------------

#: gaps in halves of a second (exact in binary), so that window boundaries are hit exactly
gaps = st.integers(min_value=0, max_value=30).map(lambda n: n / 2)
outcomes = st.sampled_from(["granted", "partial", "denied", "unauthorized"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(gaps, outcomes), max_size=80), st.integers(1, 5))
def test_one_network_never_raises_network_alerts(steps, min_history):
    at = itertools.accumulate(g for g, _ in steps)
    accesses = [Access(t, "alice", A, outcome) for t, (_, outcome) in zip(at, steps)]
    detector = Detector([NewSourceNetwork(min_history=min_history), ConcurrentUse(window=5)])
    assert detector.observe_all(accesses) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(gaps, outcomes), max_size=80), st.integers(1, 6), st.sampled_from([1, 2.5, 5, 10]))
def test_denied_burst_fires_iff_some_window_holds_more_than_count(steps, count, window):
    at = list(itertools.accumulate(g for g, _ in steps))
    accesses = [Access(t, "alice", A, outcome) for t, (_, outcome) in zip(at, steps)]
    fired = times(DeniedBurst(count=count, window=window), accesses)
    refusals = [a.time for a in accesses if a.outcome != "granted"]
    in_window = [sum(1 for s in refusals[:i + 1] if t - window < s) for i, t in enumerate(refusals)]
    assert bool(fired) == any(n > count for n in in_window)
    # and exactly when a brute-force model of "once per burst, re-armed at <= count" fires
    expected, armed = [], True
    for i, t in enumerate(refusals):
        if in_window[i] - 1 <= count:  # the window just before this refusal
            armed = True
        if in_window[i] > count and armed:
            expected.append(t)
            armed = False
    assert fired == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(gaps, outcomes, st.sampled_from([A, B, C])), max_size=60),
       st.sampled_from([1, 2.5, 5, 10]))
def test_concurrent_use_fires_iff_two_networks_are_granted_within_the_window(steps, window):
    at = list(itertools.accumulate(g for g, _, _ in steps))
    accesses = [Access(t, "alice", net, outcome) for t, (_, outcome, net) in zip(at, steps)]
    fired = times(ConcurrentUse(window=window), accesses)
    used = [(a.time, a.network) for a in accesses if a.outcome in ("granted", "partial")]
    overlap = any(n1 != n2 and t2 - t1 < window for (t1, n1), (t2, n2) in itertools.combinations(used, 2))
    assert bool(fired) == overlap
    first = next((t2 for j, (t2, n2) in enumerate(used) for t1, n1 in used[:j] if n1 != n2 and t2 - t1 < window),
                 None)
    assert (fired[0] if fired else None) == first


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(gaps, outcomes, st.sampled_from(["alice", "bob", "carol"])), max_size=80))
def test_subjects_are_independent(steps):
    """Each subject's alerts are what it raises alone: the detector mixes no subjects' state."""
    at = list(itertools.accumulate(g for g, _, _ in steps))
    accesses = [Access(t, who, [A, B][int(t) % 2], outcome) for t, (_, outcome, who) in zip(at, steps)]
    rules = [NewSourceNetwork(min_history=2), DeniedBurst(count=2, window=5), ConcurrentUse(window=5)]
    together = Detector(rules).observe_all(accesses)
    for who in ("alice", "bob", "carol"):
        alone = Detector(rules).observe_all(a for a in accesses if a.subject == who)
        assert [a for a in together if a.subject == who] == alone
