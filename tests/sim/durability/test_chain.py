"""The stripe chain: its rates, its generator, and clear errors for impossible stripes."""

import math

import numpy as np
import pytest

from regsim.sim.durability import durability
from regsim.sim.durability.chain import StripeChain
from regsim.sim.failure_processes import afr_to_rate


def test_rates_of_serial_and_parallel_repair():
    serial = StripeChain(6, 2, 1e-3, 0.5, "serial")
    parallel = StripeChain(6, 2, 1e-3, 0.5, "parallel")
    assert serial.failure_rates().tolist() == pytest.approx([6e-3, 5e-3, 4e-3])
    assert serial.repair_rates().tolist() == [0.0, 0.5, 0.5]
    assert parallel.repair_rates().tolist() == [0.0, 0.5, 1.0]


def test_generator_rows_sum_to_zero_and_loss_is_absorbing():
    q = StripeChain(14, 4, 2e-3, 0.1, "parallel").generator()
    assert q.shape == (6, 6)
    assert np.allclose(q.sum(axis=1), 0.0, atol=1e-15)
    assert not q[-1].any()
    assert q[4, 5] == pytest.approx(10 * 2e-3)  # from m failed, one more of the 10 left loses data


def test_from_afr_uses_the_engines_failure_rate():
    chain = StripeChain.from_afr(9, 6, 0.02, 86400.0)
    assert (chain.n, chain.m) == (9, 3)
    assert chain.failure_rate == afr_to_rate(0.02)
    assert chain.repair_rate == pytest.approx(1 / 86400.0)


@pytest.mark.parametrize(("args", "message"), [
    ((3, 0, 0.02, 86400.0), "k >= 1"),
    ((3, -1, 0.02, 86400.0), "k >= 1"),
    ((4, 6, 0.02, 86400.0), "m = n - k = -2"),
    ((6, 4, 0.0, 86400.0), "probability in"),
    ((6, 4, 1.0, 86400.0), "probability in"),
    ((6, 4, -0.1, 86400.0), "probability in"),
    ((6, 4, math.nan, 86400.0), "probability in"),
    ((6, 4, 0.02, 0.0), "repair time must be a positive"),
    ((6, 4, 0.02, -5.0), "repair time must be a positive"),
    ((6, 4, 0.02, math.inf), "repair time must be a positive"),
    ((6.0, 4, 0.02, 86400.0), "codec n must be an integer"),
])
def test_invalid_stripes_are_refused_with_the_reason(args, message):
    with pytest.raises(ValueError, match=message):
        StripeChain.from_afr(*args)
    with pytest.raises(ValueError, match=message):
        durability(*args, mc_trials=10)


def test_invalid_chain_parameters_are_refused():
    with pytest.raises(ValueError, match=r"may be lost\) must be >= 0"):
        StripeChain(3, -1, 1e-3, 1.0)
    with pytest.raises(ValueError, match="needs n > m"):
        StripeChain(3, 3, 1e-3, 1.0)
    with pytest.raises(ValueError, match="failure_rate must be a positive"):
        StripeChain(3, 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="repair must be 'serial'"):
        StripeChain(3, 1, 1e-3, 1.0, "lazy")
