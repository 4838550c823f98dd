"""Audit-driven detection: rules that read access decisions and raise security alerts.

The audit trail (:mod:`.audit`) says who was granted or refused what, when and -- given the
client's address -- from where. A :class:`Detector` reads it one decision at a time, as an
:class:`Access`, and applies rules that each look for one sign of a stolen or abused credential:

- :class:`NewSourceNetwork` -- a subject with an established history is suddenly granted access
  from a network it was never seen on (a credential copied off a laptop or a CI secret);
- :class:`DeniedBurst` -- many refusals for one subject in a short time (password guessing, or a
  stolen token probing what it can reach);
- :class:`ConcurrentUse` -- one subject granted access from two networks at once (a credential
  in two places).

A rule answers with a :class:`SecurityAlert` or None and keeps what it remembers in a ``state``
dict the detector gives it (one per rule), so a rule object is a frozen value that can be shared.
Memory stays bounded: timestamps sit in deques and dicts pruned by the rule's window (and capped:
``count + 1`` refusal times, :data:`MAX_NETWORKS` networks and :data:`MAX_PAIRS` pairs per
subject), and subjects idle for longer than a window are forgotten; only
:class:`NewSourceNetwork` keeps, per subject with granted access, a counter and the set of
networks seen (that is the history it compares with).

Not a subject of any rule: the anonymous subject (:data:`.audit.ANONYMOUS_NAME`) in the network
rules, since no credential was used, and an anonymous ``unauthorized`` outcome in
:class:`DeniedBurst`, since that is the challenge every client gets before it authenticates.
Accesses with an empty ``network`` (address unknown) are ignored by the network rules.

The defaults are assumptions meant for a registry's traffic, not published thresholds; each rule
says why it picked its numbers. The server (:mod:`regsim.server.audit`) and the simulator feed
the same detector, so an alert means the same in the simulated series as in ``regsim serve``.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .audit import ANONYMOUS_NAME, DENIED, GRANTED, PARTIAL, UNAUTHORIZED, AuditEvent

__all__ = ["ALERT_LEVELS", "ALERT_RULES", "DECISIONS", "MAX_NETWORKS", "MAX_PAIRS", "Access", "ConcurrentUse",
           "DeniedBurst", "Detector", "NewSourceNetwork", "SecurityAlert", "access_of", "network_of"]

#: the levels an alert may have (the server logs them at WARNING and CRITICAL)
ALERT_LEVELS = ("warning", "critical")
#: the names of the built-in rules, as alerts and the server's metric label them
ALERT_RULES = ("new-source-network", "denied-scope-burst", "concurrent-credential-use")

#: networks :class:`ConcurrentUse` follows per subject at once, and pairs of them (the most
#: recent); past these, under a flood from many networks, an old pair may alert a second time
MAX_NETWORKS = 64
MAX_PAIRS = 1024

#: the audit outcomes that are access decisions (what the detectors read; not credential issues)
DECISIONS = frozenset({GRANTED, PARTIAL, DENIED, UNAUTHORIZED})
#: outcomes that refuse access, for :class:`DeniedBurst` (a partial grant refuses part of a scope)
_REFUSED = frozenset({DENIED, UNAUTHORIZED, PARTIAL})
#: outcomes that show the credential was accepted from the access's network
_ACCEPTED = frozenset({GRANTED, PARTIAL})


@dataclass(frozen=True, slots=True)
class Access:
    """One access decision as the detectors see it.

    ``time`` in seconds (any epoch: the server uses Unix time, the simulator its clock);
    ``subject`` the user name or credential subject (``"anonymous"`` for none); ``network`` the
    source network (see :func:`network_of`; "" when unknown); ``outcome`` one of the audit
    outcomes ``granted``, ``partial``, ``denied``, ``unauthorized``; ``action`` the scope's
    actions, comma-joined (``"pull"``, ``"pull,push"``), possibly empty.
    """

    time: float
    subject: str
    network: str
    outcome: str
    action: str = ""


@dataclass(frozen=True, slots=True)
class SecurityAlert:
    """What a rule raised: when, which rule (``rule`` is its name), how bad (``warning`` or
    ``critical``), about whom, and a sentence naming the subject, networks or counts and window."""

    time: float
    rule: str
    level: str
    subject: str
    message: str


def network_of(address: str, *, v4_prefix: int = 24, v6_prefix: int = 64) -> str:
    """The network ``address`` belongs to, as CIDR: ``"203.0.113.7"`` -> ``"203.0.113.0/24"``.

    IPv6 addresses go to their ``/64`` (the size of one IPv6 subnet: unicast interface
    identifiers are 64 bits, RFC 4291 section 2.5.1), IPv4 ones to their ``/24`` (the truncation
    RFC 7871 section 11.1 recommends to keep a client's network but not the host). An IPv4
    address mapped into IPv6 (``::ffff:198.51.100.9``, as a dual-stack socket reports it) counts
    as the IPv4 address; a zone (``fe80::1%eth0``) is dropped; brackets (``[2001:db8::1]``) are
    accepted. Anything else raises :class:`ValueError` naming the input.
    """
    for name, value, top in (("v4_prefix", v4_prefix, 32), ("v6_prefix", v6_prefix, 128)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ValueError(f"{name} must be a whole number from 0 to {top}, got {value!r}")
    if not isinstance(address, str):
        raise ValueError(f"not an IP address: {address!r} (expected a string such as '203.0.113.7')")
    text = address.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]  # an IPv6 zone names an interface, not a network
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"not an IP address: {address!r} (expected e.g. '203.0.113.7' or '2001:db8::1')") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = v4_prefix if ip.version == 4 else v6_prefix
    return str(ipaddress.ip_network((ip, prefix), strict=False))


def access_of(event: AuditEvent, *, v4_prefix: int = 24, v6_prefix: int = 64) -> Access | None:
    """The :class:`Access` an audit event records, or None when it is no access decision (a
    credential issued, rotated, revoked). Its network is :func:`network_of` the event's ``remote``;
    a remote that is no IP address (a Unix socket's path, a test client's name) is its own
    network, and an event without one has network "" (unknown). The action is the scope's."""
    if event.outcome not in DECISIONS:
        return None
    network = ""
    if event.remote:
        try:
            network = network_of(event.remote, v4_prefix=v4_prefix, v6_prefix=v6_prefix)
        except ValueError:
            network = event.remote
    action = event.scope.rsplit(":", 1)[-1] if event.scope and ":" in event.scope else ""
    return Access(event.time, event.subject, network, event.outcome, action)


# -- parameter checks ------------------------------------------------------------------------

def _check_level(rule: str, level: object) -> None:
    if level not in ALERT_LEVELS:
        raise ValueError(f"{rule}: level must be one of {', '.join(map(repr, ALERT_LEVELS))}, got {level!r}")


def _check_whole(rule: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{rule}: {name} must be a whole number >= 1, got {value!r}")


def _check_window(rule: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{rule}: {name} must be a positive, finite number of seconds, got {value!r}")


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a rule's name must be a non-empty string, got {name!r}")


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _forget_idle(active: OrderedDict[str, Any], now: float, window: float) -> None:
    """Drop subjects, least recently active first, whose latest access (``entry.last``) is at least
    a window before ``now``: nothing of theirs can be in a window any more. Amortized O(1)."""
    while active:
        entry = next(iter(active.values()))
        if now - entry.last < window:
            break
        active.popitem(last=False)


def _prune_front(times: dict, now: float, window: float) -> None:
    """Drop the entries of ``times`` (kept in order of their times) at least a window old."""
    while times:
        key = next(iter(times))
        if now - times[key] < window:
            break
        del times[key]


def _touch(active: OrderedDict[str, Any], subject: str, t: float, new: Any) -> tuple[Any, float]:
    """The subject's entry (``new()`` if none), moved to the most recently active end, and the
    access's time -- never earlier than the subject's previous one, so that a decision stamped a
    little before the one logged ahead of it (a clock step, threads racing to the log) counts as
    simultaneous instead of running time backwards."""
    entry = active.pop(subject, None)
    if entry is None:
        entry = new()
    now = max(t, entry.last)
    entry.last = now
    active[subject] = entry
    return entry, now


class _Refusals:
    __slots__ = ("times", "fired", "last")

    def __init__(self, keep: int) -> None:
        self.times: deque[float] = deque(maxlen=keep)
        self.fired = False
        self.last = -math.inf


class _Uses:
    __slots__ = ("networks", "episodes", "last")

    def __init__(self) -> None:
        self.networks: dict[str, float] = {}  # network -> latest granted access from it
        self.episodes: dict[frozenset[str], float] = {}  # pair of networks -> latest overlap
        self.last = -math.inf


# -- the rules -------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewSourceNetwork:
    """Granted access from a network the subject was never granted access from, once it has a
    history: the sign of a credential copied to a new place.

    A subject's first ``min_history`` granted accesses (``granted`` or ``partial`` outcomes: the
    credential was accepted) are its learning period; their networks are what it is known to use.
    After that, an access from a network not yet seen raises one alert, and the network joins
    the known ones, so it alerts once per new network. Refusals are not history: a stolen
    credential refused everywhere has not been "used" from anywhere.

    ``min_history = 10`` is an assumption: enough pulls for a CI runner or a developer machine
    to have shown its usual networks (a few image pulls, each several granted requests), few
    enough that a new credential is covered within its first session. Lower it for subjects that
    pull rarely; expect warnings when users travel or roam between networks -- hence ``warning``.
    """

    min_history: int = 10
    level: str = "warning"
    name: str = "new-source-network"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_whole(self.name, "min_history", self.min_history)
        _check_level(self.name, self.level)

    def check(self, state: dict, access: Access) -> SecurityAlert | None:
        if access.outcome not in _ACCEPTED or not access.network or access.subject == ANONYMOUS_NAME:
            return None
        seen: tuple[int, set[str]] | None = state.get(access.subject)
        if seen is None:
            state[access.subject] = (1, {access.network})
            return None
        count, networks = seen
        alert = None
        if access.network not in networks:
            if count >= self.min_history:
                shown = sorted(networks)[:5]
                known = ", ".join(shown) + (f" and {len(networks) - 5} more" if len(networks) > 5 else "")
                alert = SecurityAlert(access.time, self.name, self.level, access.subject,
                                      f"{access.subject} was granted {access.action or 'access'} from "
                                      f"{access.network}, a network not seen in its {count} earlier granted "
                                      f"accesses (known: {known})")
            networks.add(access.network)
        state[access.subject] = (count + 1, networks)
        return alert


@dataclass(frozen=True)
class DeniedBurst:
    """More than ``count`` refusals for one subject within ``window`` seconds: password guessing
    or a credential probing what it may reach.

    Refusals are ``denied`` and ``unauthorized`` outcomes, and ``partial`` ones (some of the
    requested actions on a scope were refused). The window is the ``window`` seconds up to and
    including each refusal: refusals at ``t - window`` or earlier are outside it. The rule fires
    once per burst -- at the refusal that first puts more than ``count`` in the window -- and
    re-arms once the window holds ``count`` or fewer again.

    An anonymous ``unauthorized`` outcome is not counted: it is the 401 challenge every client
    gets before it authenticates (Docker asks ``/v2/`` without credentials first), so a busy
    registry would see a "burst" of them from all its clients together. Anonymous ``denied``
    outcomes still count. Refusals are counted per subject -- the user name tried -- so guessing
    across many user names is not caught here.

    ``count = 20`` in ``window = 60`` s is an assumption: a client that lacks access is refused
    once or twice per image (the manifest, perhaps a retry), so 20 within a minute is far more
    than a mistaken ``docker pull`` and well within what a scripted guesser reaches. It is the
    shape of fail2ban's rule ("maxretry failures within findtime") on access decisions.
    """

    count: int = 20
    window: float = 60.0
    level: str = "critical"
    name: str = "denied-scope-burst"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_whole(self.name, "count", self.count)
        _check_window(self.name, "window", self.window)
        _check_level(self.name, self.level)

    def check(self, state: dict, access: Access) -> SecurityAlert | None:
        if access.outcome not in _REFUSED or (access.subject == ANONYMOUS_NAME and access.outcome == UNAUTHORIZED):
            return None
        active: OrderedDict[str, _Refusals] = state.setdefault("subjects", OrderedDict())
        _forget_idle(active, access.time, self.window)
        # the newest count + 1 refusal times are all that is needed: the window holds more than
        # ``count`` exactly when the oldest of them is still inside it
        entry, now = _touch(active, access.subject, access.time, lambda: _Refusals(self.count + 1))
        times = entry.times
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) <= self.count:
            entry.fired = False  # the window held ``count`` or fewer just before this refusal: re-armed
        times.append(now)
        if len(times) <= self.count or entry.fired:
            return None
        entry.fired = True
        return SecurityAlert(access.time, self.name, self.level, access.subject,
                             f"{access.subject}: {len(times)} refused accesses within {_seconds(now - times[0])} "
                             f"(more than {self.count} in {_seconds(self.window)}); latest: {access.outcome} "
                             f"{access.action or 'access'} from {access.network or 'an unknown network'}")


@dataclass(frozen=True)
class ConcurrentUse:
    """One subject granted access from two different networks within ``window`` seconds: a
    credential in two places at once.

    Each granted (or partially granted) access from network ``n`` is compared with the subject's
    latest granted access from every other network: one less than ``window`` seconds earlier is
    an overlap. The first overlap of a pair of networks raises an alert; the pair stays in its
    episode, without further alerts, as long as its overlaps keep coming less than ``window``
    seconds apart, and a later overlap starts a new episode (and a new alert).

    ``window = 300`` s is the default lifetime of the registry's bearer tokens (the token
    service's ``ttl``, :class:`.tokens.TokenService`): a client rarely moves to another network
    within one token's life, so two networks in that time are most likely two clients. That one
    credential belongs to one client at a time is an assumption; a robot account shared by CI
    runners on several networks breaks it, and alerts once per pair of networks per episode.
    """

    window: float = 300.0
    level: str = "critical"
    name: str = "concurrent-credential-use"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_window(self.name, "window", self.window)
        _check_level(self.name, self.level)

    def check(self, state: dict, access: Access) -> SecurityAlert | None:
        if access.outcome not in _ACCEPTED or not access.network or access.subject == ANONYMOUS_NAME:
            return None
        active: OrderedDict[str, _Uses] = state.setdefault("subjects", OrderedDict())
        _forget_idle(active, access.time, self.window)
        entry, now = _touch(active, access.subject, access.time, _Uses)
        networks, episodes = entry.networks, entry.episodes
        _prune_front(networks, now, self.window)  # both are in order of their times, oldest first
        _prune_front(episodes, now, self.window)
        fresh = []
        for other, seen in networks.items():
            if other == access.network:
                continue
            pair = frozenset((other, access.network))
            if episodes.pop(pair, None) is None:
                fresh.append((other, now - seen))
            episodes[pair] = now
        networks.pop(access.network, None)
        networks[access.network] = now
        while len(networks) > MAX_NETWORKS:  # a credential spread over more networks than this at once
            del networks[next(iter(networks))]
        while len(episodes) > MAX_PAIRS:
            del episodes[next(iter(episodes))]
        if not fresh:
            return None
        others = "; ".join(f"{net} {_seconds(round(gap, 3))} earlier" for net, gap in sorted(fresh))
        return SecurityAlert(access.time, self.name, self.level, access.subject,
                             f"{access.subject} was granted {access.action or 'access'} from {access.network} "
                             f"and, within {_seconds(self.window)}, from {others}")


class Detector:
    """Applies every rule to each access, keeping one state per rule; :attr:`alerts` collects what
    fired (the newest ``max_alerts`` of them when that is given; None keeps every one).

    Not thread-safe: a caller observing from several threads holds a lock around :meth:`observe`
    (the server does).
    """

    def __init__(self, rules: Iterable = (NewSourceNetwork(), DeniedBurst(), ConcurrentUse()), *,
                 max_alerts: int | None = None) -> None:
        self.rules = tuple(rules)
        for rule in self.rules:
            if not callable(getattr(rule, "check", None)) or not isinstance(getattr(rule, "name", None), str):
                raise ValueError(f"a detector rule needs a name and a check(state, access) method, got {rule!r}")
        if max_alerts is not None:
            _check_whole("Detector", "max_alerts", max_alerts)
        self.max_alerts = max_alerts
        self._states: list[dict] = [{} for _ in self.rules]
        self.alerts: list[SecurityAlert] = []

    def observe(self, access: Access) -> list[SecurityAlert]:
        """The alerts ``access`` fires (possibly none), also appended to :attr:`alerts`."""
        fired = [alert for rule, state in zip(self.rules, self._states)
                 if (alert := rule.check(state, access)) is not None]
        if fired:
            self.alerts.extend(fired)
            if self.max_alerts is not None and len(self.alerts) > self.max_alerts:
                del self.alerts[:len(self.alerts) - self.max_alerts]
        return fired

    def observe_all(self, accesses: Iterable[Access]) -> list[SecurityAlert]:
        """The alerts of a whole series, in order."""
        return [alert for access in accesses for alert in self.observe(access)]

    def reset(self) -> None:
        """Forget every rule's state and the alerts."""
        self._states = [{} for _ in self.rules]
        self.alerts.clear()
