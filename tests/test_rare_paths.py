"""Paths that random drawing reaches about once in a thousand cases, reached on purpose: every entry of
the int16 softmax look-up tables (against TFLM), rounding ties and extreme multipliers (against the
big-integer re-statements of test_quant.py)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from test_quant import INT32_MAX, INT32_MIN, mbqm, quantize_multiplier, rdbpot, srdhm, to_int16

from tinyinterp import quant
from tinyinterp.kernels import fixedpoint
from tinyinterp.model import ModelBuilder
from tinyinterp.testing import OpCase, assert_bit_exact, run_tflm

INT16 = np.arange(-(2**15), 2**15, dtype=np.int16)


def int16_softmax(scale: float, beta: float) -> OpCase:
    """SOFTMAX int16 over rows [32767, v] for every int16 v: every difference to the row's maximum,
    0 to -65535, so every exp table entry and interpolation offset, and every 1 / (1 + x) entry the sum
    of the row reaches."""
    rows = np.stack([np.full_like(INT16, 2**15 - 1), INT16], axis=-1)[np.newaxis]
    builder = ModelBuilder("rare paths")
    x = builder.input("x", rows.shape, "int16", scale=scale, zero_point=0)
    y = builder.tensor("y", rows.shape, "int16", scale=1 / 32768, zero_point=0)
    builder.op("SOFTMAX", [x], [y], beta=beta)
    builder.output(y)
    return OpCase("SOFTMAX", "int16", builder.build(), (rows,))


@pytest.mark.parametrize(
    ("scale", "beta"),
    [
        (10 / 65535, 1.0),  # TFLM's table domain, [-10, 0], one table step per input step
        (10 / 65535, 0.7),  # a multiplier below one: table positions between the input steps
        (1e-3, 1.0),  # differences past -10 saturate at the table's first entry
    ],
)
def test_int16_softmax_every_table_entry_equals_tflm(scale: float, beta: float, tflm: ModuleType) -> None:
    case = int16_softmax(scale, beta)
    assert_bit_exact(case.expected(), run_tflm(case), case)


def ties(bits: int) -> st.SearchStrategy[tuple[int, int]]:
    """(x, exponent), x halfway between two multiples of 2**exponent, within `bits` signed bits."""
    limit = 2 ** (bits - 1)

    def tie(exponent: int, k: int, sign: int) -> tuple[int, int]:
        return k * 2**exponent + sign * 2 ** (exponent - 1), exponent

    return (
        st.integers(1, bits - 1)
        .flatmap(
            lambda e: st.builds(
                tie, st.just(e), st.integers(-(limit >> e), limit >> e), st.sampled_from([1, -1])
            )
        )
        .filter(lambda pair: -limit <= pair[0] < limit)
    )


@given(ties(32))
@example((-(2**30), 31))
def test_rounding_divide_by_pot_ties(pair: tuple[int, int]) -> None:
    x, exponent = pair
    assert fixedpoint.rounding_divide_by_pot(x, exponent) == rdbpot(x, exponent)


@given(ties(16))
def test_rounding_divide_by_pot_int16_ties(pair: tuple[int, int]) -> None:
    x, exponent = pair
    assert fixedpoint.rounding_divide_by_pot_int16(x, exponent) == rdbpot(x, exponent, cast=to_int16)


# Products a * b whose doubled high half is exactly halfway: b = 2**k, a odd multiple of 2**(30 - k).
@given(st.integers(0, 30).flatmap(lambda k: st.tuples(st.just(2**k), st.integers(-(2**k), 2**k - 1))))
def test_srdhm_ties(pair: tuple[int, int]) -> None:
    b, j = pair
    a = (2 * j + 1) * 2 ** (30 - b.bit_length() + 1)
    if INT32_MIN <= a <= INT32_MAX:
        assert fixedpoint.saturating_rounding_doubling_high_mul(a, b) == srdhm(a, b)
        assert fixedpoint.saturating_rounding_doubling_high_mul(-a, b) == srdhm(-a, b)


EXTREME_MULTIPLIERS = st.sampled_from([1, 2, 3, 2**30 - 1, 2**30, 2**30 + 1, INT32_MAX - 1, INT32_MAX])


@given(
    st.one_of(
        st.sampled_from([INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX]), st.integers(INT32_MIN, INT32_MAX)
    ),
    EXTREME_MULTIPLIERS,
    st.sampled_from([-31, -30, -1, 0, 1, 30, 31]),
)
def test_extreme_multipliers(x: int, multiplier: int, shift: int) -> None:
    assert fixedpoint.multiply_by_quantized_multiplier(x, multiplier, shift) == mbqm(x, multiplier, shift)


# Reals whose mantissa x 2**31 is exactly halfway between integers (std::round's tie), and mantissas that
# round up to 2**31 (the shift then grows by one), at exponents from the smallest kept to the largest.
half_mantissas = st.integers(2**30, 2**31 - 1).map(lambda n: (2 * n + 1) / 2**32)
top_mantissas = st.sampled_from([1 - 2**-33, 1 - 2**-34, 1 - 2**-40, 1 - 2**-53])


@given(st.one_of(half_mantissas, top_mantissas), st.integers(-31, 31), st.sampled_from([1.0, -1.0]))
def test_quantize_multiplier_ties(mantissa: float, exponent: int, sign: float) -> None:
    real = sign * mantissa * 2.0**exponent
    assert quant.quantize_multiplier(real) == quantize_multiplier(real)
