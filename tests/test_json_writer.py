"""report.json_.indented writes exactly what json.dumps(indent=2) writes, one value at a time."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from segloss_cli.report.json_ import indented

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),  # unicode, quotes, control characters: escaped alike
)
keys = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.booleans(), st.none(), st.floats(-2, 2))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(value=values, pad=st.sampled_from(["", "  ", "    "]))
def test_indented_equals_json_dumps(value, pad):
    assert indented(value, pad) == json.dumps(value, indent=2, allow_nan=False).replace("\n", "\n" + pad)


def test_indented_refuses_what_json_refuses():
    for bad in (float("nan"), [1.0, float("inf")], {"a": object()}):
        for fn in (lambda v: json.dumps(v, indent=2, allow_nan=False), indented):
            try:
                fn(bad)
            except (ValueError, TypeError) as exc:
                kind = type(exc)
            else:
                raise AssertionError(f"{bad!r} accepted")
            assert kind in (ValueError, TypeError)
