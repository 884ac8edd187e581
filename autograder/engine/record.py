"""Safe values on the wire between the student's sandbox and the judge: no pickle, ever.

The grader never trusts a Python object that student code made. A value crosses a process
boundary as a *tree* (JSON: numbers, strings, lists, and tagged objects) plus raw byte
*blobs* for arrays; :func:`decode` rebuilds only plain types from it: numbers, strings,
bytes, ``None``, tuples/lists/dicts/sets of these, numpy arrays and scalars of numeric,
boolean or string dtypes, and ``numpy.random.Generator`` states. Anything else a student
function returns (a class instance, a lambda, an object array) becomes an :class:`Opaque`
token, which no test can mistake for a right answer.

Frames (:func:`write_frame`, :class:`FrameReader`) carry one message: a 4-byte length, a
JSON header, then the blobs the header lists.
"""

from __future__ import annotations

import json
import os
import re
import select
import struct
import time
from typing import Any, Callable

import numpy as np

MAX_FRAME_BYTES = 64 * 2**20       # one message (a call's arguments or its return value)
MAX_HEADER_BYTES = 16 * 2**20
MAX_NODES = 200_000                # tree nodes in one value
MAX_DEPTH = 64
MAX_TEXT = 20_000                  # characters of a student's exception message or output

_DTYPE = re.compile(r"^[<>|=]?[biufcUSMm]\d{1,4}(\[[a-zA-Z0-9]+\])?$")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_LENGTH = struct.Struct(">I")


class WireError(ValueError):
    """A value or frame that breaks the wire format (too big, too deep, malformed)."""


class Opaque:
    """Stands for a value the grader cannot check (returned by a student function).

    It equals nothing, is not a number, and refuses to become an array, so a test that
    receives it fails with a message naming the type the student returned.
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"your function returned a {self.type_name} object, which the grader cannot check: "
            "return numbers, numpy arrays, strings, None, or tuples/lists/dicts of these"
        )

    __array__ = __float__ = __int__ = __index__ = __len__ = __iter__ = __getitem__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _refuse
    __matmul__ = __rmatmul__ = __neg__ = __abs__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __bool__ = _refuse

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<unreadable {self.type_name} returned by your function>"


# --- values -> (tree, blobs) ----------------------------------------------------------------

class _Encoder:
    def __init__(self, callables: Callable[[Any], int] | None) -> None:
        self.blobs: list[bytes] = []
        self.size = 0
        self.nodes = 0
        self.callables = callables

    def blob(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > MAX_FRAME_BYTES:
            raise WireError(f"value too large (over {MAX_FRAME_BYTES // 2**20} MB)")
        self.blobs.append(data)
        return len(self.blobs) - 1

    def array(self, arr: np.ndarray) -> dict:
        arr = np.asarray(arr)
        if not _DTYPE.match(arr.dtype.str):
            return {"T": "opaque", "type": f"numpy array of dtype {arr.dtype}"}
        data = np.ascontiguousarray(arr).tobytes()
        return {"T": "nd", "dtype": arr.dtype.str, "shape": list(arr.shape), "b": self.blob(data)}

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise WireError(f"value too large (over {MAX_NODES} items)")
        if depth > MAX_DEPTH:
            raise WireError(f"value nested too deeply (over {MAX_DEPTH} levels)")
        kind = type(value)
        if value is None or kind is bool or kind is str:
            return value
        if kind is int:
            return value if abs(value) < 2**53 else {"T": "int", "v": str(value)}
        if kind is float:
            return value if np.isfinite(value) else {"T": "float", "v": repr(value)}
        if kind is list:
            return [self.encode(v, depth + 1) for v in value]
        if kind is tuple:
            return {"T": "tuple", "v": [self.encode(v, depth + 1) for v in value]}
        if kind is dict:
            return {"T": "dict", "k": [self.encode(k, depth + 1) for k in value],
                    "v": [self.encode(v, depth + 1) for v in value.values()]}
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, np.generic):
            enc = self.array(np.asarray(value))
            if enc["T"] == "nd":
                enc["T"] = "np"
            return enc
        if isinstance(value, np.random.Generator):
            bitgen = type(value.bit_generator).__name__
            if bitgen in _BIT_GENERATORS:
                return {"T": "rng", "bitgen": bitgen,
                        "state": self.encode(value.bit_generator.state, depth + 1)}
        if kind is complex:
            return {"T": "complex", "re": self.encode(value.real), "im": self.encode(value.imag)}
        if kind is bytes:
            return {"T": "bytes", "b": self.blob(value)}
        if kind in (set, frozenset):
            return {"T": kind.__name__, "v": [self.encode(v, depth + 1) for v in value]}
        if callable(value) and self.callables is not None:
            return {"T": "fn", "id": self.callables(value),
                    "name": str(getattr(value, "__name__", "function"))[:100]}
        # Subclasses of plain types (a student's float that equals everything) become plain.
        for base, convert in ((bool, bool), (int, int), (float, float), (str, str),
                              (tuple, tuple), (list, list), (dict, dict)):
            if isinstance(value, base):
                return self.encode(convert(value), depth)
        return {"T": "opaque", "type": _type_name(value)}


def _type_name(value: Any) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", "object")
    text = name if module in ("builtins", "__main__", "") else f"{module}.{name}"
    return str(text)[:100]


def encode(value: Any, callables: Callable[[Any], int] | None = None) -> tuple[Any, list[bytes]]:
    """``(tree, blobs)`` for ``value``; ``callables(fn) -> id`` lets functions through as ids."""
    enc = _Encoder(callables)
    return enc.encode(value), enc.blobs


# --- (tree, blobs) -> values ----------------------------------------------------------------

class _Decoder:
    def __init__(self, blobs: list[bytes], callables: Callable[[int, str], Any] | None) -> None:
        self.blobs = blobs
        self.nodes = 0
        self.callables = callables

    def blob(self, index: Any) -> bytes:
        if type(index) is not int or not 0 <= index < len(self.blobs):
            raise WireError(f"bad blob reference {index!r}")
        return self.blobs[index]

    def array(self, node: dict) -> np.ndarray:
        dtype_text, shape = node.get("dtype"), node.get("shape")
        if not isinstance(dtype_text, str) or not _DTYPE.match(dtype_text):
            raise WireError(f"unsupported array dtype {dtype_text!r}")
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
            raise WireError(f"bad array shape {shape!r}")
        dtype = np.dtype(dtype_text)
        if dtype.hasobject:
            raise WireError("object arrays are not allowed")
        data = self.blob(node.get("b"))
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * dtype.itemsize != len(data):
            raise WireError("array size does not match its data")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    def decode(self, node: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise WireError("value too large or nested too deeply")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.decode(v, depth + 1) for v in node]
        if type(node) is not dict:
            raise WireError(f"unexpected {type(node).__name__} in value")
        tag = node.get("T")
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in self._list(node, "v"))
        if tag == "dict":
            keys = [self.decode(k, depth + 1) for k in self._list(node, "k")]
            values = [self.decode(v, depth + 1) for v in self._list(node, "v")]
            if len(keys) != len(values):
                raise WireError("dict keys and values differ in number")
            try:
                return dict(zip(keys, values))
            except TypeError:
                raise WireError("unhashable dict key") from None
        if tag == "nd":
            return self.array(node)
        if tag == "np":
            return self.array(node)[()]
        if tag == "int":
            return int(str(node.get("v"))[:5000])
        if tag == "float":
            text = node.get("v")
            if text not in ("nan", "inf", "-inf"):
                raise WireError(f"bad float {text!r}")
            return float(text)
        if tag == "complex":
            return complex(float(self.decode(node.get("re"))), float(self.decode(node.get("im"))))
        if tag == "bytes":
            return self.blob(node.get("b"))
        if tag in ("set", "frozenset"):
            items = [self.decode(v, depth + 1) for v in self._list(node, "v")]
            try:
                return set(items) if tag == "set" else frozenset(items)
            except TypeError:
                raise WireError("unhashable set item") from None
        if tag == "rng":
            name = node.get("bitgen")
            if name not in _BIT_GENERATORS:
                raise WireError(f"unknown bit generator {name!r}")
            bitgen = getattr(np.random, name)()
            try:
                bitgen.state = self.decode(node.get("state"), depth + 1)
            except (TypeError, ValueError, KeyError) as err:
                raise WireError(f"bad generator state: {err}") from None
            return np.random.Generator(bitgen)
        if tag == "fn" and self.callables is not None:
            return self.callables(node.get("id"), str(node.get("name", "function"))[:100])
        if tag == "opaque":
            return Opaque(str(node.get("type", "object"))[:100])
        raise WireError(f"unknown value tag {tag!r}")

    @staticmethod
    def _list(node: dict, key: str) -> list:
        items = node.get(key)
        if type(items) is not list:
            raise WireError(f"malformed {node.get('T')} node")
        return items


def decode(tree: Any, blobs: list[bytes], callables: Callable[[int, str], Any] | None = None) -> Any:
    """The value ``tree``/``blobs`` describes, built from safe types only (raises WireError)."""
    return _Decoder(blobs, callables).decode(tree)


def apply_in_place(target: Any, new: Any, generators_only: bool = False) -> None:
    """Make ``target`` (an argument a student function received) look like ``new``, in place.

    Used for arguments the function changed: arrays are overwritten, lists and dicts
    refilled, generators moved to their new state; immutable parts are left alone. With
    ``generators_only`` only random generators move (what a call may legitimately consume);
    arrays, lists and dicts keep the values the caller gave, whatever the function did to its
    copy, so references computed from them afterwards are the intended ones.
    """
    if isinstance(new, Opaque):
        return
    if isinstance(target, np.random.Generator) and isinstance(new, np.random.Generator):
        if type(target.bit_generator) is type(new.bit_generator):
            target.bit_generator.state = new.bit_generator.state
        return
    if isinstance(target, np.ndarray) and isinstance(new, np.ndarray):
        if target.shape == new.shape and target.flags.writeable and not generators_only:
            np.copyto(target, new, casting="unsafe")
    elif type(target) is list and type(new) is list:
        if len(target) == len(new):
            for index, (old, item) in enumerate(zip(target, new)):
                if isinstance(old, (np.ndarray, list, dict, tuple, np.random.Generator)) \
                        and type(old) is type(item):
                    apply_in_place(old, item, generators_only)
                elif not isinstance(item, Opaque) and not generators_only:
                    target[index] = item
        elif not generators_only:
            target[:] = new
    elif type(target) is dict and type(new) is dict:
        for key, item in new.items():
            old = target.get(key)
            if isinstance(old, (np.ndarray, list, dict, tuple, np.random.Generator)) \
                    and type(old) is type(item):
                apply_in_place(old, item, generators_only)
            elif not isinstance(item, Opaque) and not generators_only:
                target[key] = item
        if not generators_only:
            for key in [k for k in target if k not in new]:
                del target[key]
    elif type(target) is tuple and type(new) is tuple and len(target) == len(new):
        for old, item in zip(target, new):
            apply_in_place(old, item, generators_only)


def fingerprint(tree: Any, blobs: list[bytes]) -> bytes:
    """Bytes that change whenever the encoded value changes (to spot mutated arguments)."""
    return json.dumps(tree, sort_keys=True).encode() + b"".join(blobs)


# --- frames ---------------------------------------------------------------------------------

def pack_frame(header: dict, blobs: list[bytes] = ()) -> bytes:
    """One message: length of the JSON header, the header (with blob sizes), the blobs."""
    header = dict(header, blobs=[len(b) for b in blobs])
    text = json.dumps(header).encode()
    return _LENGTH.pack(len(text)) + text + b"".join(blobs)


def write_frame(fd: int, header: dict, blobs: list[bytes] = ()) -> None:
    """Write one frame to file descriptor ``fd`` (blocking)."""
    data = memoryview(pack_frame(header, blobs))
    while data:
        written = os.write(fd, data)
        data = data[written:]


class ChannelClosed(EOFError):
    """The other side of a channel closed it (the process died or exited)."""


class ChannelTimeout(TimeoutError):
    """No complete frame arrived before the deadline."""


class FrameReader:
    """Reads frames from a file descriptor, with an optional deadline; never trusts sizes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def _fill(self, need: int, deadline: float | None) -> None:
        while len(self.buffer) < need:
            if deadline is not None:
                # what already arrived is read even when the deadline has passed (select with
                # a zero wait): a late check must not throw away an answer that came in time
                left = max(deadline - time.monotonic(), 0.0)
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    if time.monotonic() >= deadline:
                        raise ChannelTimeout("no answer before the deadline")
                    continue
            chunk = os.read(self.fd, max(need - len(self.buffer), 1 << 16))
            if not chunk:
                raise ChannelClosed("channel closed")
            self.buffer += chunk

    def read(self, deadline: float | None = None) -> tuple[dict, list[bytes], bytes]:
        """``(header, blobs, raw frame bytes)``; raises ChannelTimeout, ChannelClosed, WireError."""
        self._fill(_LENGTH.size, deadline)
        (length,) = _LENGTH.unpack(bytes(self.buffer[:_LENGTH.size]))
        if length > MAX_HEADER_BYTES:
            raise WireError(f"frame header of {length} bytes is too large")
        self._fill(_LENGTH.size + length, deadline)
        try:
            header = json.loads(bytes(self.buffer[_LENGTH.size:_LENGTH.size + length]))
        except ValueError as err:
            raise WireError(f"malformed frame header: {err}") from None
        sizes = header.get("blobs") if isinstance(header, dict) else None
        if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
            raise WireError("malformed frame header: bad blob sizes")
        total = _LENGTH.size + length + sum(sizes)
        if total > MAX_FRAME_BYTES + MAX_HEADER_BYTES:
            raise WireError(f"frame of {total} bytes is too large")
        self._fill(total, deadline)
        raw = bytes(self.buffer[:total])
        del self.buffer[:total]
        blobs, offset = [], _LENGTH.size + length
        for size in sizes:
            blobs.append(raw[offset:offset + size])
            offset += size
        return header, blobs, raw


def cap_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters not shown]"
