"""The pickle-free wire format between the student's sandbox and the judge."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.engine import record
from autograder.engine.record import Opaque, WireError, apply_in_place, decode, encode


def roundtrip(value):
    tree, blobs = encode(value)
    json.dumps(tree)                                  # the tree is plain JSON
    return decode(tree, blobs)


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                   st.binary(max_size=5), st.complex_numbers(allow_nan=False),
                   hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.uint8]),
                              hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=3), inner, max_size=3)), max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(values)
def test_plain_values_survive_the_wire_exactly(value) -> None:
    """Do numbers, strings, arrays (dtype, shape, bits) and nested containers come back
    exactly, tuples as tuples and lists as lists?"""
    assert same(value, roundtrip(value))


def test_numpy_scalars_and_generators_keep_their_type_and_state() -> None:
    """Do numpy scalars keep their dtype, and a generator its exact state?"""
    assert roundtrip(np.float32(1.5)).dtype == np.float32
    rng = np.random.default_rng(3)
    rng.normal(size=4)
    copy = roundtrip(rng)
    assert copy.normal() == rng.normal()
    assert roundtrip({1, 2}) == {1, 2} and roundtrip(frozenset("ab")) == frozenset("ab")


def test_anything_else_becomes_an_opaque_token() -> None:
    """Are class instances, lambdas and object arrays turned into tokens no test can pass with?"""
    class Liar:
        def __eq__(self, other):
            return True

    for value in (Liar(), lambda x: x, np.array([object()], dtype=object)):
        token = roundtrip(value)
        assert isinstance(token, Opaque)
        assert token != token and not (token == 1)
        with pytest.raises(TypeError, match="cannot check"):
            np.asarray(token, dtype=float)
        with pytest.raises(TypeError):
            float(token)


def test_subclasses_of_plain_types_are_made_plain() -> None:
    """Does a float subclass that claims to equal everything arrive as a plain float?"""
    class Sneaky(float):
        def __eq__(self, other):
            return True

    class Matrixish(np.ndarray):
        pass

    value = roundtrip(Sneaky(2.0))
    assert type(value) is float and value == 2.0 and value != 3.0
    assert type(roundtrip(np.zeros(2).view(Matrixish))) is np.ndarray


@pytest.mark.parametrize("tree, blobs, words", [
    ({"T": "nd", "dtype": "|O8", "shape": [1], "b": 0}, [b"\0" * 8], "dtype"),
    ({"T": "nd", "dtype": "<f8", "shape": [3], "b": 0}, [b"\0" * 8], "size"),
    ({"T": "nd", "dtype": "<f8", "shape": [-1], "b": 0}, [b"\0" * 8], "shape"),
    ({"T": "nd", "dtype": "<f8", "shape": [1], "b": 5}, [b"\0" * 8], "blob"),
    ({"T": "pickle", "v": "cos\nsystem"}, [], "unknown value tag"),
    ({"T": "fn", "id": 0}, [], "unknown value tag"),
    ({"T": "float", "v": "1e999999"}, [], "bad float"),
    ({"T": "rng", "bitgen": "os.system", "state": {}}, [], "bit generator"),
    ({"T": "dict", "k": [[1]], "v": [1]}, [], "unhashable"),
])
def test_malicious_trees_are_refused(tree, blobs, words) -> None:
    """Are object dtypes, bad sizes, unknown tags (pickle, functions) refused with WireError?"""
    with pytest.raises(WireError, match=words):
        decode(tree, blobs)


def test_deep_or_huge_values_are_refused() -> None:
    """Are absurdly deep or large values refused instead of exhausting the grader?"""
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(WireError):
        encode(deep)
    tree = [0] * (record.MAX_NODES + 1)
    with pytest.raises(WireError):
        decode(tree, [])


def test_apply_in_place_mirrors_what_a_function_changed() -> None:
    """Are changed arrays, lists, dicts and generators updated in place (same objects)?"""
    array, items, table, rng = np.zeros(3), [1, np.zeros(2)], {"a": 1, "gone": 2}, np.random.default_rng(1)
    moved = np.random.default_rng(1)
    moved.normal(size=5)
    inner = items[1]
    apply_in_place((array, items, table, rng),
                   (np.ones(3), [5, np.full(2, 7.0)], {"a": 2, "new": 3}, moved))
    assert np.array_equal(array, np.ones(3)) and items[0] == 5 and items[1] is inner
    assert np.array_equal(inner, [7.0, 7.0]) and table == {"a": 2, "new": 3}
    assert rng.normal() == moved.normal()


def test_frames_roundtrip_and_refuse_lies_about_size() -> None:
    """Do frames carry header and blobs intact, and is a frame claiming a huge header refused?"""
    read_fd, write_fd = os.pipe()
    try:
        record.write_frame(write_fd, {"op": "x"}, [b"abc", b""])
        header, blobs, raw = record.FrameReader(read_fd).read(deadline=None)
        assert header["op"] == "x" and blobs == [b"abc", b""]
        os.write(write_fd, b"\xff\xff\xff\xff")
        with pytest.raises(WireError, match="too large"):
            record.FrameReader(read_fd).read(deadline=None)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_reader_times_out_and_notices_a_closed_channel() -> None:
    """Does reading give up at the deadline, and report a closed pipe as closed?"""
    import time
    read_fd, write_fd = os.pipe()
    reader = record.FrameReader(read_fd)
    with pytest.raises(record.ChannelTimeout):
        reader.read(deadline=time.monotonic() + 0.1)
    os.close(write_fd)
    with pytest.raises(record.ChannelClosed):
        reader.read(deadline=time.monotonic() + 1)
    os.close(read_fd)
