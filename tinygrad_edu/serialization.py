"""``save`` / ``load`` for state_dicts in a safe, pickle-free file format.

``torch.save`` uses pickle, and unpickling a file can run arbitrary code. This format can only
ever produce arrays, numbers, strings, lists, tuples and dicts: loading never imports or calls
anything named in the file. The layout is the safetensors one, so ``safetensors.numpy.load_file``
can read the arrays of our files and ``load`` can read plain ``.safetensors`` files::

    bytes [0, 8)        N, the header length (unsigned 64-bit little-endian)
    bytes [8, 8 + N)    the header: UTF-8 JSON, padded with spaces to a multiple of 8
    bytes [8 + N, end)  the tensor data: raw little-endian buffers, back to back

    header = {
      "fc.weight": {"dtype": "F32", "shape": [10, 784], "data_offsets": [0, 31360]},
      ...,
      "__metadata__": {"format": "tinygrad_edu", "version": "1", "tree": "<JSON>"}
    }

``data_offsets`` are relative to the start of the data section. ``tree`` describes the nested
Python structure (dicts with str/int keys, lists, tuples, numbers, strings, None) whose leaves
point at tensors by name, which is what optimizer state_dicts need besides model ones.

>>> import io, tinygrad_edu as tg
>>> buffer = io.BytesIO()
>>> tg.save({"w": tg.ones(2, 3), "step": 7}, buffer)
>>> _ = buffer.seek(0)
>>> state = tg.load(buffer)
>>> state["w"].shape, state["step"]
((2, 3), 7)
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import struct
import tempfile
from collections import OrderedDict

import numpy as np

from . import backend
from .backend import Device, as_device
from .tensor import Tensor

FORMAT_NAME = "tinygrad_edu"
FORMAT_VERSION = "1"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit safetensors uses too
MAX_DEPTH = 64  # nesting depth of the saved structure (state_dicts need about 4)
MAX_NDIM = 32

# safetensors dtype codes <-> NumPy dtypes (always little-endian in the file)
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_CODES = {(dt.kind, dt.itemsize): code for code, dt in _DTYPES.items()}


# ----------------------------------------------------------------------------------------------
# save
# ----------------------------------------------------------------------------------------------


class _Writer:
    """Turns a nested object into (tree, named arrays), one tensor entry per distinct object."""

    def __init__(self):
        self.arrays: list[tuple[str, np.ndarray]] = []
        self.names: set[str] = {"__metadata__"}
        self.seen: dict[int, str] = {}  # id(tensor or array) -> name (shared tensors saved once)
        self.keep_alive: list = []  # so that ids stay unique while saving

    def _name(self, path: list) -> str:
        base = ".".join(str(p) for p in path) or "root"
        name, k = base, 1
        while name in self.names:
            name = f"{base}#{k}"
            k += 1
        self.names.add(name)
        return name

    def _add_array(self, obj, array, path: list) -> str:
        if id(obj) in self.seen:
            return self.seen[id(obj)]
        array = backend.to_numpy(array)
        code = _CODES.get((array.dtype.kind, array.dtype.itemsize))
        if code is None or array.dtype.kind not in "fiub":
            raise TypeError(
                f"save: {_where(path)} has dtype {array.dtype}, which this format does not "
                f"store; supported: {sorted(str(d) for d in _DTYPES.values())}"
            )
        array = array.astype(_DTYPES[code], order="C", copy=False)  # keeps 0-d shapes
        name = self._name(path)
        self.arrays.append((name, array))
        self.seen[id(obj)] = name
        self.keep_alive.append(obj)
        return name

    def encode(self, obj, path: list, active: set) -> dict:
        if len(path) > MAX_DEPTH:
            raise ValueError(f"save: the object nests more than {MAX_DEPTH} levels deep at "
                             f"{_where(path)}")
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, np.generic):  # before int/float: np.float64 is a float subclass
            return {"t": "npscalar", "name": self._add_array(obj, np.asarray(obj), path)}
        if isinstance(obj, int):
            return {"t": "int", "v": int(obj)}
        if isinstance(obj, float):
            return {"t": "float", "v": repr(float(obj))}
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, Tensor):
            from .nn.module import Parameter

            node = {"t": "tensor", "name": self._add_array(obj, obj.data, path),
                    "device": str(obj.device), "requires_grad": bool(obj.requires_grad)}
            if isinstance(obj, Parameter):
                node["parameter"] = True
            return node
        if isinstance(obj, np.ndarray) or backend.is_cupy_array(obj):
            return {"t": "ndarray", "name": self._add_array(obj, obj, path),
                    "device": str(backend.device_of(obj))}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in active:
                raise ValueError(f"save: {_where(path)} contains itself (a reference cycle)")
            active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    node = {"t": "dict", "ordered": isinstance(obj, OrderedDict),
                            "keys": [], "values": []}
                    for key, value in obj.items():
                        node["keys"].append(self._encode_key(key, path))
                        node["values"].append(self.encode(value, path + [key], active))
                    return node
                items = [self.encode(v, path + [i], active) for i, v in enumerate(obj)]
                return {"t": "list" if isinstance(obj, list) else "tuple", "items": items}
            finally:
                active.discard(id(obj))
        raise TypeError(
            f"save: cannot store {_where(path)} of type {type(obj).__name__}; supported: "
            "Tensor, numpy arrays and scalars, dict, list, tuple, int, float, str, bool, None"
        )

    def _encode_key(self, key, path: list) -> dict:
        if isinstance(key, np.generic) and key.dtype.kind in "biufU":
            key = key.item()  # np.int64(3) -> 3: a numpy scalar key comes back a Python one
        if key is None or isinstance(key, (bool, int, float, str)):
            return self.encode(key, path, set())
        raise TypeError(f"save: dict key {key!r} at {_where(path)} has type "
                        f"{type(key).__name__}; keys must be str, int, float, bool or None")


def _where(path: list) -> str:
    return "obj" + "".join(f"[{p!r}]" for p in path)


def save(obj, f) -> None:
    """Write ``obj`` (a state_dict: nested dicts/lists/tuples of tensors, NumPy arrays,
    numbers, strings, bools and None) to ``f``, a path or a binary file object.

    Tensors are copied to the host; their device and ``requires_grad`` are recorded. A tensor
    object that appears twice is stored once and comes back as one shared tensor.
    """
    writer = _Writer()
    tree = writer.encode(obj, [], set())
    header: dict = {}
    offset = 0
    for name, array in writer.arrays:
        header[name] = {"dtype": _code_of(array), "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    header["__metadata__"] = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
                              "tree": json.dumps(tree, separators=(",", ":"))}
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)  # align the data section to 8 bytes
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ValueError(f"save: the header would be {len(header_bytes)} bytes, over the "
                         f"{MAX_HEADER_BYTES}-byte limit (too many tensors or too much metadata)")

    def write(stream) -> None:
        stream.write(struct.pack("<Q", len(header_bytes)))
        stream.write(header_bytes)
        for _, array in writer.arrays:
            stream.write(array.tobytes(order="C"))

    if hasattr(f, "write"):
        if isinstance(f, io.TextIOBase):
            raise TypeError("save: the file object must be opened in binary mode ('wb')")
        write(f)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: cannot write {path!r}: the directory {directory!r} "
                                "does not exist")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".tge")
    try:
        with os.fdopen(fd, "wb") as stream:  # write a temporary file, then rename: a crash
            write(stream)                     # never leaves a half-written checkpoint
        # mkstemp makes the file private (0600): give it the mode open(path, "wb") would, the
        # old file's when it replaces one
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _file_mode(path: str) -> int:
    """The permission bits of the file at ``path``, or, for a new file, 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process' umask: read from /proc on Linux; elsewhere the only way to read it is to
    set it and put it back at once (a file another thread creates in between would get mode
    0666)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _code_of(array: np.ndarray) -> str:
    return _CODES[(array.dtype.kind, array.dtype.itemsize)]


# ----------------------------------------------------------------------------------------------
# load
# ----------------------------------------------------------------------------------------------


def _bad(message: str) -> ValueError:
    return ValueError(f"load: {message}")


def _reject_constant(value):
    raise _bad(f"invalid JSON constant {value!r} in the header")


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _bad("the header repeats a key")
    return dict(pairs)


def _parse_json(text: str, what: str):
    try:
        return json.loads(text, parse_constant=_reject_constant,
                          object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise _bad(f"the {what} nests too deeply") from None
    except ValueError as e:
        if str(e).startswith("load:"):
            raise
        raise _bad(f"the {what} is not valid JSON ({e})") from None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_entry(name: str, entry, data_length: int) -> tuple[np.dtype, tuple, int, int]:
    """Validate one tensor entry of the header; returns (dtype, shape, begin, end)."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _bad(f"tensor {name!r}: expected an object with exactly dtype, shape and "
                   f"data_offsets")
    code = entry["dtype"]
    if not isinstance(code, str) or code not in _DTYPES:
        raise _bad(f"tensor {name!r}: unknown or unsupported dtype {code!r}; supported: "
                   f"{sorted(_DTYPES)}")
    shape = entry["shape"]
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(_is_int(s) and s >= 0 for s in shape)):
        raise _bad(f"tensor {name!r}: shape must be a list of at most {MAX_NDIM} non-negative "
                   f"integers, got {shape!r}"[:300])
    offsets = entry["data_offsets"]
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)):
        raise _bad(f"tensor {name!r}: data_offsets must be [begin, end] integers, got "
                   f"{offsets!r}"[:300])
    begin, end = offsets
    if not 0 <= begin <= end:
        raise _bad(f"tensor {name!r}: data_offsets {offsets} are not 0 <= begin <= end")
    if end > data_length:
        raise _bad(f"tensor {name!r}: data_offsets {offsets} reach past the end of the data "
                   f"section ({data_length} bytes); the file is truncated or corrupted")
    dtype = _DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    if end - begin != expected:
        raise _bad(f"tensor {name!r}: shape {shape} of {code} needs {expected} bytes but "
                   f"data_offsets {offsets} span {end - begin}")
    return dtype, tuple(shape), begin, end


def _target_device(saved: str, map_location) -> Device:
    try:
        source = as_device(saved)
    except (TypeError, ValueError):
        raise _bad(f"unknown device {saved!r} in the file") from None
    if map_location is None:
        target = source
    elif isinstance(map_location, (str, Device)):
        target = as_device(map_location)
    elif isinstance(map_location, dict):
        mapped = {str(as_device(k)): v for k, v in map_location.items()}
        target = as_device(mapped.get(str(source), source))
    else:
        raise TypeError(f"load: map_location must be None, a device ('cpu', 'cuda:0') or a dict "
                        f"{{'cuda:0': 'cpu'}}, got {type(map_location).__name__}")
    if target.type == "cuda" and not backend.gpu_available():
        raise RuntimeError(
            f"load: the file has a tensor saved on {source} but no CUDA GPU is available here; "
            "pass map_location='cpu' to load it on the CPU"
        )
    return target


class _Reader:
    def __init__(self, arrays: dict, map_location):
        self.arrays = arrays  # name -> host array
        self.map_location = map_location
        self.made: dict[str, object] = {}  # name -> the object built for it (keeps sharing)

    def _array(self, node: dict) -> tuple[str, np.ndarray]:
        name = node.get("name")
        if not isinstance(name, str) or name not in self.arrays:
            raise _bad(f"the structure refers to a tensor {name!r} that the header does not "
                       "describe")
        return name, self.arrays[name]

    def decode(self, node, depth: int):
        if depth > MAX_DEPTH:
            raise _bad(f"the structure nests more than {MAX_DEPTH} levels deep")
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise _bad("malformed structure node (expected an object with a type 't')")
        kind = node["t"]
        if kind == "none":
            return None
        if kind in ("bool", "int", "str"):
            value = node.get("v")
            ok = {"bool": isinstance(value, bool), "int": _is_int(value),
                  "str": isinstance(value, str)}[kind]
            if not ok:
                raise _bad(f"a {kind} node holds {type(value).__name__}")
            return value
        if kind == "float":
            value = node.get("v")
            if not isinstance(value, str) or len(value) > 64:
                raise _bad("a float node must hold its value as a short string")
            try:
                return float(value)
            except ValueError:
                raise _bad(f"invalid float {value!r}") from None
        if kind in ("list", "tuple"):
            items = node.get("items")
            if not isinstance(items, list):
                raise _bad(f"a {kind} node needs a list of items")
            values = [self.decode(item, depth + 1) for item in items]
            return values if kind == "list" else tuple(values)
        if kind == "dict":
            keys, values = node.get("keys"), node.get("values")
            if not isinstance(keys, list) or not isinstance(values, list) or \
                    len(keys) != len(values):
                raise _bad("a dict node needs 'keys' and 'values' lists of equal length")
            out = OrderedDict() if node.get("ordered") is True else {}
            for key_node, value_node in zip(keys, values, strict=True):
                key = self.decode(key_node, depth + 1)
                if isinstance(key, (list, tuple, dict, Tensor, np.ndarray, np.generic)):
                    raise _bad("dict keys must be str, int, float, bool or None")
                out[key] = self.decode(value_node, depth + 1)
            return out
        if kind in ("tensor", "ndarray", "npscalar"):
            return self._leaf(kind, node)
        raise _bad(f"unknown structure node type {kind!r}")

    def _leaf(self, kind: str, node: dict):
        name, array = self._array(node)
        key = f"{kind}:{name}"
        if key in self.made:
            return self.made[key]
        if kind == "npscalar":
            if array.ndim != 0:
                raise _bad(f"numpy scalar {name!r} must have shape []")
            result = array[()]
        else:
            device = node.get("device", "cpu")
            if not isinstance(device, str):
                raise _bad(f"tensor {name!r}: device must be a string")
            data = backend.to_device(array, _target_device(device, self.map_location))
            if kind == "ndarray":
                result = data
            else:
                requires_grad = node.get("requires_grad", False) is True
                if node.get("parameter") is True:
                    from .nn.module import Parameter

                    result = Parameter(Tensor._wrap(data), requires_grad=requires_grad)
                else:
                    result = Tensor._wrap(data, False)
                    if requires_grad and data.dtype.kind == "f":
                        result.requires_grad_(True)
        self.made[key] = result
        return result


def load(f, map_location=None, weights_only: bool = True):
    """Read what ``save`` wrote (or a plain .safetensors file, as a flat dict of tensors).

    ``f`` is a path or a binary file object. ``map_location``: None puts every tensor back on
    the device it was saved from; ``'cpu'`` / ``'cuda'`` / ``'cuda:1'`` puts all of them there;
    a dict such as ``{'cuda:0': 'cpu'}`` remaps devices. Any malformed, truncated or hostile
    file raises ``ValueError`` naming the problem; nothing in the file is ever executed
    (``weights_only`` is accepted for torch compatibility and is always effectively True).
    """
    if hasattr(f, "read"):
        if isinstance(f, io.TextIOBase):
            raise TypeError("load: the file object must be opened in binary mode ('rb')")
        raw = f.read()
    else:
        with open(os.fspath(f), "rb") as stream:
            raw = stream.read()
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError("load: the file object must be opened in binary mode ('rb')")
    raw = bytes(raw)
    if len(raw) < 8:
        raise _bad(f"the file has {len(raw)} bytes, too short for the 8-byte header length; "
                   "it is empty, truncated or not a tinygrad_edu/safetensors file")
    (header_length,) = struct.unpack("<Q", raw[:8])
    if header_length == 0 or header_length > MAX_HEADER_BYTES:
        raise _bad(f"header length {header_length} is not in (0, {MAX_HEADER_BYTES}]; this is "
                   "not a tinygrad_edu/safetensors file (a pickle from torch.save cannot be "
                   "read, by design)")
    if 8 + header_length > len(raw):
        raise _bad(f"the header claims {header_length} bytes but the file has only "
                   f"{len(raw) - 8} after the length field; the file is truncated")
    try:
        header_text = raw[8:8 + header_length].decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the header is not valid UTF-8") from None
    header = _parse_json(header_text, "header")
    if not isinstance(header, dict):
        raise _bad("the header must be a JSON object")
    data = memoryview(raw)[8 + header_length:]

    metadata = header.pop("__metadata__", None)
    if metadata is not None and (not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise _bad("__metadata__ must map strings to strings")

    entries = {name: _check_entry(name, entry, len(data)) for name, entry in header.items()}
    _check_layout(entries, len(data))
    arrays = {}
    for name, (dtype, shape, begin, end) in entries.items():
        try:
            array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        except ValueError:  # e.g. shape [2**62, 2**62, 0]: empty, but too big for NumPy
            raise _bad(f"tensor {name!r}: shape {list(shape)} is too large for NumPy") from None
        if dtype.kind == "b" and array.view(np.uint8).max(initial=0) > 1:
            raise _bad(f"tensor {name!r}: a BOOL tensor holds bytes other than 0 and 1")
        arrays[name] = array.astype(dtype.newbyteorder("="), copy=True)  # owned, writable

    if metadata is None or metadata.get("format") != FORMAT_NAME:
        # a plain safetensors file: a flat dict of tensors, in file order
        reader = _Reader(arrays, map_location)
        return OrderedDict(
            (name, reader._leaf("tensor", {"name": name, "device": "cpu"})) for name in arrays
        )
    if metadata.get("version") != FORMAT_VERSION:
        raise _bad(f"unsupported {FORMAT_NAME} format version {metadata.get('version')!r} "
                   f"(this library reads version {FORMAT_VERSION})")
    if "tree" not in metadata:
        raise _bad("__metadata__ has no 'tree' describing the saved structure")
    tree = _parse_json(metadata["tree"], "structure description")
    return _Reader(arrays, map_location).decode(tree, 0)


def _check_layout(entries: dict, data_length: int) -> None:
    """Buffers must tile the data section exactly: no gaps, no overlaps, nothing left over."""
    position = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin != position:
            problem = "overlaps another tensor" if begin < position else "leaves a gap"
            raise _bad(f"tensor {name!r} starts at byte {begin} of the data section, which "
                       f"{problem} (expected {position})")
        position = end
    if position != data_length:
        raise _bad(f"the data section has {data_length} bytes but the tensors use {position}; "
                   "the file is corrupted")
