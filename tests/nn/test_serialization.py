"""tinygrad_edu.save / load: round trips of model and optimizer state_dicts and of nested
structures, the safetensors layout, devices (map_location), and hostile or broken files, which
must raise a clear ValueError and never run code."""

import io
import json
import math
import os
import pickle
import struct
from collections import OrderedDict

import numpy as np
import pytest
import torch

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.serialization import MAX_DEPTH


def _roundtrip(obj, **load_kwargs):
    buffer = io.BytesIO()
    tg.save(obj, buffer)
    buffer.seek(0)
    return tg.load(buffer, **load_kwargs)


def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Embedding(5, 2))


# ----------------------------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------------------------


def test_model_state_dict_round_trip_through_a_file(tmp_path):
    model = _model()
    model[1](tg.randn(6, 8))  # non-trivial running statistics, num_batches_tracked = 1
    path = tmp_path / "model.tge"
    tg.save(model.state_dict(), path)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]  # no leftovers
    loaded = tg.load(str(path))
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())
    fresh = _model()
    fresh.load_state_dict(loaded)
    fresh.eval()
    model.eval()
    x = tg.randn(3, 4)
    np.testing.assert_array_equal(fresh[:2](x).detach().numpy(), model[:2](x).detach().numpy())
    assert fresh[1].num_batches_tracked.item() == 1


def test_saved_file_gets_the_mode_of_a_normal_new_file(tmp_path):
    """A new checkpoint is 0666 less the umask, as open() would make it (the temporary file
    behind the atomic write is private, 0600); an overwritten one keeps its old mode."""
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "new.tge"
        tg.save({"w": tg.ones(2)}, path)
        assert os.stat(path).st_mode & 0o777 == 0o644
        os.chmod(path, 0o640)
        tg.save({"w": tg.zeros(2)}, path)
        assert os.stat(path).st_mode & 0o777 == 0o640
        os.umask(0o077)
        tg.save({"w": tg.ones(2)}, tmp_path / "private.tge")
        assert os.stat(tmp_path / "private.tge").st_mode & 0o777 == 0o600
    finally:
        os.umask(old_umask)


def test_nested_structures_and_python_values_round_trip():
    shared = tg.tensor([1.0, 2.0], requires_grad=True)
    obj = {
        "state": {0: {"step": 3, "exp_avg": tg.zeros(2, 3, dtype=tg.float64)},
                  1: {"momentum_buffer": None}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                          "nesterov": False, "name": "décor ✓"}],
        "floats": [math.nan, math.inf, -math.inf, 0.1, -0.0],
        "arrays": [np.arange(6, dtype=np.int32).reshape(2, 3), np.array(True),
                   np.zeros((0, 4), dtype=np.float16), np.float32(2.5), np.uint8(7)],
        "tied": [shared, shared],
        "big": 2**80,
        (None if False else "key.with.dots"): OrderedDict(b=1, a=2),
        3.5: "float key",
        True: "bool key",
    }
    back = _roundtrip(obj)
    assert back["state"][0]["step"] == 3 and isinstance(back["state"][0]["step"], int)
    assert back["state"][0]["exp_avg"].dtype == np.float64
    assert back["state"][1] == {"momentum_buffer": None}
    group = back["param_groups"][0]
    assert group == {"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False,
                     "name": "décor ✓"}
    assert isinstance(group["betas"], tuple)
    floats = back["floats"]
    assert math.isnan(floats[0]) and floats[1:4] == [math.inf, -math.inf, 0.1]
    assert math.copysign(1.0, floats[4]) == -1.0
    arrays = back["arrays"]
    assert arrays[0].dtype == np.int32 and arrays[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert arrays[1].dtype == np.bool_ and arrays[1].shape == () and bool(arrays[1])
    assert arrays[2].dtype == np.float16 and arrays[2].shape == (0, 4)
    assert type(arrays[3]) is np.float32 and arrays[3] == 2.5
    assert type(arrays[4]) is np.uint8 and arrays[4] == 7
    first, second = back["tied"]
    assert first is second and first.requires_grad  # sharing and requires_grad survive
    assert back["big"] == 2**80
    assert list(back["key.with.dots"]) == ["b", "a"]
    assert isinstance(back["key.with.dots"], OrderedDict)
    assert back[3.5] == "float key" and back[True] == "bool key"


def test_parameters_come_back_as_parameters():
    p = nn.Parameter(tg.ones(2))
    back = _roundtrip({"p": p, "frozen": nn.Parameter(tg.ones(1), requires_grad=False)})
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad
    assert isinstance(back["frozen"], nn.Parameter) and not back["frozen"].requires_grad


def test_optimizer_state_dict_round_trip():
    optim = pytest.importorskip("tinygrad_edu.optim")
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        model(tg.randn(4, 3)).pow(2).sum().backward()
        opt.step()
    saved = opt.state_dict()
    back = _roundtrip(saved)
    assert back["param_groups"] == saved["param_groups"]
    assert set(back["state"]) == set(saved["state"])
    for index, state in saved["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(np.asarray(back["state"][index][key]),
                                          np.asarray(value))
    fresh = optim.Adam(nn.Linear(3, 2).parameters(), lr=0.5)
    fresh.load_state_dict(back)
    assert fresh.param_groups[0]["lr"] == 0.01


def test_file_layout_is_safetensors():
    """An independent reader: 8-byte little-endian length, JSON header, raw buffers."""
    buffer = io.BytesIO()
    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    tg.save({"fc.weight": tg.tensor(weight), "fc.bias": tg.tensor([1.0, 2.0])}, buffer)
    raw = buffer.getvalue()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0  # the data section is 8-byte aligned
    header = json.loads(raw[8:8 + n])
    entry = header["fc.weight"]
    assert entry["dtype"] == "F32" and entry["shape"] == [2, 3]
    begin, end = entry["data_offsets"]
    data = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<f4").reshape(2, 3)
    np.testing.assert_array_equal(data, weight)
    assert header["__metadata__"]["format"] == "tinygrad_edu"
    assert all(isinstance(v, str) for v in header["__metadata__"].values())


def test_plain_safetensors_file_loads_as_a_flat_dict():
    payload = np.array([1.5, -2.0], dtype="<f8").tobytes()
    header = json.dumps({"w": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}).encode()
    loaded = tg.load(io.BytesIO(struct.pack("<Q", len(header)) + header + payload))
    assert list(loaded) == ["w"] and loaded["w"].tolist() == [1.5, -2.0]


def test_map_location_and_missing_gpu():
    back = _roundtrip({"w": tg.ones(2)}, map_location="cpu")
    assert back["w"].device == "cpu"
    back = _roundtrip({"w": tg.ones(2)}, map_location={"cuda:0": "cpu"})
    assert back["w"].device == "cpu"
    with pytest.raises(TypeError, match="map_location must be"):
        _roundtrip({"w": tg.ones(2)}, map_location=lambda storage, loc: storage)
    if not tg.cuda_is_available():
        with pytest.raises(RuntimeError, match="pass map_location='cpu'"):
            _roundtrip({"w": tg.ones(2)}, map_location="cuda")


@pytest.mark.gpu
def test_round_trip_across_devices():
    model = _model().to("cuda")
    buffer = io.BytesIO()
    tg.save(model.state_dict(), buffer)
    buffer.seek(0)
    on_gpu = tg.load(buffer)
    assert all(t.device == "cuda:0" for t in on_gpu.values())
    buffer.seek(0)
    on_cpu = tg.load(buffer, map_location="cpu")
    assert all(t.device == "cpu" for t in on_cpu.values())
    cpu_model = _model()
    cpu_model.load_state_dict(on_cpu)
    back_to_gpu = _roundtrip(cpu_model.state_dict(), map_location="cuda")
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(back_to_gpu[key].cpu().numpy(), value.cpu().numpy())


def test_save_refuses_what_it_cannot_store():
    with pytest.raises(TypeError, match=r"cannot store obj\['fn'\] of type function"):
        tg.save({"fn": lambda: 0}, io.BytesIO())
    with pytest.raises(TypeError, match="dtype object"):
        tg.save({"a": np.array([object()])}, io.BytesIO())
    with pytest.raises(TypeError, match="keys must be"):
        tg.save({(1, 2): 3}, io.BytesIO())
    cycle = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="reference cycle"):
        tg.save(cycle, io.BytesIO())


# ----------------------------------------------------------------------------------------------
# Corrupted, truncated and malicious files
# ----------------------------------------------------------------------------------------------


def _file(header: dict, data: bytes = b"", tree=None) -> io.BytesIO:
    if tree is not None:
        header = {**header, "__metadata__": {"format": "tinygrad_edu", "version": "1",
                                             "tree": json.dumps(tree)}}
    text = json.dumps(header).encode()
    return io.BytesIO(struct.pack("<Q", len(text)) + text + data)


GOOD_ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
GOOD_TREE = {"t": "tensor", "name": "w", "device": "cpu"}

BAD_FILES = [
    ("empty file", io.BytesIO(b""), "too short"),
    ("header length zero", io.BytesIO(struct.pack("<Q", 0) + b"{}"), "header length 0"),
    ("absurd header length", io.BytesIO(struct.pack("<Q", 2**63) + b"{}"), "header length"),
    ("header past the end", io.BytesIO(struct.pack("<Q", 100) + b"{}"), "truncated"),
    ("not utf-8", io.BytesIO(struct.pack("<Q", 2) + b"\xff\xfe"), "UTF-8"),
    ("not json", io.BytesIO(struct.pack("<Q", 5) + b"{nope"), "not valid JSON"),
    ("json array", _file([]), "must be a JSON object"),
    ("json bomb", io.BytesIO(struct.pack("<Q", 200000) + b"[" * 200000), "nests too deeply"),
    ("NaN constant", io.BytesIO(struct.pack("<Q", 9) + b'{"a":NaN}'), "invalid JSON constant"),
    ("duplicate key", io.BytesIO(struct.pack("<Q", 15) + b'{"a":1, "a":2 }'), "repeats a key"),
    ("unknown dtype", _file({"w": {**GOOD_ENTRY, "dtype": "F128"}}, bytes(8)), "unknown"),
    ("object dtype", _file({"w": {**GOOD_ENTRY, "dtype": "O"}}, bytes(8)), "unsupported dtype"),
    ("pickle dtype", _file({"w": {**GOOD_ENTRY, "dtype": "|O"}}, bytes(8)), "unsupported dtype"),
    ("extra entry field", _file({"w": {**GOOD_ENTRY, "code": "x"}}, bytes(8)), "exactly"),
    ("negative dim", _file({"w": {**GOOD_ENTRY, "shape": [-2]}}, bytes(8)), "non-negative"),
    ("bool dim", _file({"w": {**GOOD_ENTRY, "shape": [True]}}, bytes(8)), "non-negative"),
    ("huge shape", _file({"w": {**GOOD_ENTRY, "shape": [10**12, 10**12]}}, bytes(8)),
     "needs 4000000000000000000000000 bytes"),
    ("offsets past the end", _file({"w": {**GOOD_ENTRY, "data_offsets": [0, 8]}}, bytes(4)),
     "reach past the end"),
    ("offsets reversed", _file({"w": {**GOOD_ENTRY, "data_offsets": [8, 0]}}, bytes(8)),
     "begin <= end"),
    ("float offsets", _file({"w": {**GOOD_ENTRY, "data_offsets": [0.0, 8.0]}}, bytes(8)),
     "integers"),
    ("overlap", _file({"a": GOOD_ENTRY, "b": GOOD_ENTRY}, bytes(8)), "overlaps"),
    ("gap", _file({"w": {**GOOD_ENTRY, "data_offsets": [4, 12]}}, bytes(12)), "gap"),
    ("trailing bytes", _file({"w": GOOD_ENTRY}, bytes(16)), "the tensors use 8"),
    ("bad metadata", _file({"__metadata__": {"tree": 5}}), "strings to strings"),
    ("unknown version", _file({"__metadata__": {"format": "tinygrad_edu", "version": "9"}}),
     "format version"),
    ("tree names a missing tensor", _file({}, tree={"t": "tensor", "name": "ghost"}),
     "does not describe"),
    ("unknown node type", _file({}, tree={"t": "__import__('os').system('true')"}),
     "unknown structure node"),
    ("int node holds a string", _file({}, tree={"t": "int", "v": "1"}), "holds str"),
    ("float node holds code", _file({}, tree={"t": "float", "v": "__import__('os')"}),
     "invalid float"),
    ("unequal dict lists", _file({}, tree={"t": "dict", "keys": [], "values": [{"t": "none"}]}),
     "equal length"),
    ("unknown device", _file({"w": GOOD_ENTRY}, bytes(8), tree={**GOOD_TREE, "device": "tpu"}),
     "unknown device"),
]


@pytest.mark.parametrize("name,stream,message", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_broken_and_hostile_files_raise_clear_value_errors(name, stream, message):
    stream.seek(0)
    with pytest.raises(ValueError, match=message) as info:
        tg.load(stream)
    assert str(info.value).startswith("load: ")


def test_deeply_nested_tree_is_refused():
    tree = {"t": "none"}
    for _ in range(MAX_DEPTH + 5):
        tree = {"t": "list", "items": [tree]}
    with pytest.raises(ValueError, match="nests more than"):
        tg.load(_file({}, tree=tree))


def test_truncated_checkpoint_is_detected(tmp_path):
    path = tmp_path / "model.tge"
    tg.save(_model().state_dict(), path)
    raw = path.read_bytes()
    for cut in (3, 20, len(raw) // 2, len(raw) - 1):
        with pytest.raises(ValueError, match="load: "):
            tg.load(io.BytesIO(raw[:cut]))


class _Payload:
    """Unpickling this would create ``marker``: proof that a loader executed code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    for payload in (pickle.dumps(_Payload(marker)), pickle.dumps({"w": 1}, protocol=2)):
        with pytest.raises(ValueError, match="not a tinygrad_edu/safetensors file"):
            tg.load(io.BytesIO(payload))
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)  # torch's zip+pickle checkpoint
    buffer.seek(0)
    with pytest.raises(ValueError, match="load: "):
        tg.load(buffer)
    assert not marker.exists()


def test_text_mode_file_is_refused(tmp_path):
    path = tmp_path / "w.tge"
    tg.save({"w": tg.ones(1)}, path)
    with open(path, encoding="latin-1") as f, pytest.raises(TypeError, match="binary mode"):
        tg.load(f)
