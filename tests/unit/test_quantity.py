from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.quantity import QuantityError, parse_quantity, same_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("4Gi", Decimal(4 * 2**30)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("5e-1", Decimal("0.5")),
        ("0.5", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("1.", Decimal(1)),
        ("+1k", Decimal(1000)),
        ("-2Mi", Decimal(-2 * 2**20)),
        ("1E", Decimal(10**18)),
        ("1Ei", Decimal(2**60)),
        ("100n", Decimal("1e-7")),
        ("3u", Decimal("3e-6")),
        ("2000Mi", Decimal(2000 * 2**20)),
        (2, Decimal(2)),
        (0.25, Decimal("0.25")),
    ],
)
def test_parses_exactly(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", ".", "1.2.3", "1e", "Ki", "1KiB", "1 Gi", "1e3.5", "e3", "1ki", "--1", True, None]
)
def test_rejects(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)
    assert not same_quantity(text, text)


def test_out_of_range_exponent_is_a_quantity_error():
    with pytest.raises(QuantityError, match="out of range"):
        parse_quantity("1e99999999999")


def test_no_rounding_where_the_original_rounded():
    assert parse_quantity("500m") < parse_quantity("1")
    assert parse_quantity("999m") < parse_quantity("1")
    assert parse_quantity("1001m") > parse_quantity("1")


def test_same_quantity():
    assert same_quantity("0.5", "500m")
    assert same_quantity("1Gi", "1073741824")
    assert same_quantity("1Gi", 1073741824)
    assert not same_quantity("1G", "1Gi")
    assert not same_quantity("x", "x")


_SUFFIX_FACTORS = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 1000,
    "M": 10**6,
    "G": 10**9,
    "Ki": 1024,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


@given(
    st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from(sorted(_SUFFIX_FACTORS)),
)
def test_suffix_scales_the_number_exactly(number, suffix):
    text = f"{number:f}{suffix}"
    assert parse_quantity(text) == number * _SUFFIX_FACTORS[suffix]


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=-20, max_value=20))
def test_exponent_form_matches_scaled_integer(mantissa, exponent):
    assert parse_quantity(f"{mantissa}e{exponent}") == Decimal(mantissa).scaleb(exponent)


@given(st.integers(min_value=0, max_value=10**15))
def test_milli_and_plain_agree(n):
    assert same_quantity(f"{n}m", f"{Decimal(n) / 1000:f}")


@given(st.text(max_size=20))
def test_arbitrary_text_parses_or_raises_quantity_error(text):
    try:
        value = parse_quantity(text)
    except QuantityError:
        assert not same_quantity(text, text)
    else:
        assert isinstance(value, Decimal)
        assert same_quantity(text, text)
