"""Read PyTorch `.pth` state dicts with the standard library and numpy.

PyTorch writes `torch.save(model.state_dict(), path)` in one of two layouts:

- zip (PyTorch 1.6 and later): `<prefix>/data.pkl` contains the pickled dict,
  and each tensor storage is a raw record `<prefix>/data/<key>`. An optional
  `<prefix>/byteorder` record names the byte order of those records.
- legacy (before 1.6, or `_use_new_zipfile_serialization=False`): five
  pickles in a row, then raw bytes. The pickles are a magic number, the
  protocol version 1001, a system-info dict, the pickled dict and the list
  of storage keys. Each storage then follows as its element count (int64)
  and its little-endian bytes.

In both layouts the pickle names storage types such as `torch.FloatStorage`
and rebuilds tensors with `torch._utils._rebuild_tensor_v2`. The unpickler
here resolves only those names, to stand-ins defined below, and rejects every
other global, so a file cannot run code while it is read. PyTorch itself is
never imported.
"""

import logging
import pickle
import sys
import tarfile
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from tl_core.errors import WeightsError

logger = logging.getLogger(__name__)

# Exceptions the standard unpickler raises on bytes that are not a valid pickle.
_PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    OverflowError,
)

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

# numpy dtype of each PyTorch storage class. BFloat16 has no numpy dtype, so
# its raw 16-bit words are widened to float32 after reading.
STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype(np.float64),
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(np.uint16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for a `torch.<Name>Storage` class named in the pickle."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return STORAGE_DTYPES[self.name]


@dataclass(frozen=True)
class _StorageRef:
    """A storage named by the pickle, whose bytes are read after unpickling.

    `view_offset` and `view_size` are set only for the storage views of the
    legacy format, which cover part of the root storage `key`.
    """

    key: str
    storage_type: _StorageType
    numel: int
    view_offset: int = 0
    view_size: int | None = None


@dataclass(frozen=True)
class _TensorRef:
    """A tensor rebuilt by the pickle: a strided window on one storage."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, storage_offset, size, stride, *unused) -> _TensorRef:
    # Stands in for `_rebuild_tensor` and `_rebuild_tensor_v2`, whose further
    # arguments (requires_grad, backward hooks, metadata) do not matter here.
    if not isinstance(storage, _StorageRef):
        raise WeightsError(
            f"A tensor in the file is built on {type(storage).__name__}, not a storage."
        )
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *unused):
    # Stands in for `_rebuild_parameter`: an nn.Parameter is stored as its tensor.
    return data


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals of a plain state dict."""

    def __init__(self, file: IO[bytes], source: Path):
        super().__init__(file)
        self.source = source
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise WeightsError(
                f"{self.source} references {module}.{name}, which a plain state dict does not "
                "contain, so it was not loaded. Use a file written by "
                "`torch.save(model.state_dict(), path)`."
            ) from None

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            kind = pid[0] if isinstance(pid, tuple) and pid else pid
            raise WeightsError(
                f"{self.source} contains a pickled {kind!r} object, not only tensors. "
                "Use a file written by `torch.save(model.state_dict(), path)`."
            )
        # zip layout: ("storage", type, key, location, numel)
        # legacy layout: the same plus a view tuple (view_key, offset, size) or None
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) > 5 else None
        if not isinstance(numel, int) or numel < 0:
            raise WeightsError(f"{self.source}: storage {key!r} has an invalid size {numel!r}.")
        if not isinstance(storage_type, _StorageType):
            raise WeightsError(
                f"{self.source}: storage {key!r} has an unknown type {storage_type!r}."
            )

        root = self.storages.setdefault(str(key), _StorageRef(str(key), storage_type, int(numel)))
        if (root.storage_type, root.numel) != (storage_type, int(numel)):
            raise WeightsError(
                f"{self.source}: storage {key!r} is referenced with two types or sizes."
            )
        if view is None:
            return root
        _view_key, view_offset, view_size = view
        return _StorageRef(root.key, storage_type, root.numel, int(view_offset), int(view_size))


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Read a PyTorch state dict file into `{parameter name: numpy array}`.

    Accepts the zip layout and the legacy layout of `torch.save`. Each array
    is a C-contiguous copy in native byte order, with the tensor's shape and
    a numpy dtype matching the storage (bfloat16 becomes float32).

    Raises WeightsError when the file is missing, is in another format (such
    as the tar layout of early PyTorch releases), is truncated, references
    anything besides tensors, or contains a tensor that does not fit its storage.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"PyTorch weight file {path} not found.")

    if zipfile.is_zipfile(path):
        tree, storages = _read_zip_layout(path)
    elif tarfile.is_tarfile(path):
        raise WeightsError(
            f"{path} uses the tar layout of early PyTorch releases, which is not supported. "
            "Save the state dict again with a current PyTorch."
        )
    else:
        tree, storages = _read_legacy_layout(path)

    return _collect_tensors(tree, storages, path)


def _read_zip_layout(path: Path) -> tuple[Any, dict[str, np.ndarray]]:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        pickles = [name for name in names if name.count("/") == 1 and name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise WeightsError(
                f"{path} is a zip file but not a PyTorch state dict: expected one "
                f"'<folder>/data.pkl' entry, found {len(pickles)}."
            )
        prefix = pickles[0].removesuffix("data.pkl")

        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = archive.read(prefix + "byteorder").decode("ascii").strip()

        with archive.open(pickles[0]) as handle:
            unpickler = _StateDictUnpickler(handle, path)
            tree = _unpickle(unpickler, path)

        storages = {}
        for key, ref in unpickler.storages.items():
            record = f"{prefix}data/{key}"
            if record not in names:
                raise WeightsError(f"{path} is missing the storage record {record!r}.")
            raw = archive.read(record)
            storages[key] = _decode_storage(raw, ref, byteorder, path)
    return tree, storages


def _read_legacy_layout(path: Path) -> tuple[Any, dict[str, np.ndarray]]:
    with open(path, "rb") as handle:
        try:
            magic = _StateDictUnpickler(handle, path).load()
        except _PICKLE_ERRORS:
            magic = None
        if magic != LEGACY_MAGIC_NUMBER:
            raise WeightsError(
                f"{path} is not a PyTorch weight file: it is neither a zip archive nor "
                "the legacy layout of torch.save."
            )
        protocol = _unpickle(_StateDictUnpickler(handle, path), path)
        if protocol != LEGACY_PROTOCOL_VERSION:
            raise WeightsError(
                f"{path} uses legacy protocol version {protocol!r}, but only "
                f"{LEGACY_PROTOCOL_VERSION} is supported."
            )
        _unpickle(_StateDictUnpickler(handle, path), path)  # system info, not needed

        unpickler = _StateDictUnpickler(handle, path)
        tree = _unpickle(unpickler, path)
        keys = _unpickle(_StateDictUnpickler(handle, path), path)
        if not isinstance(keys, list):
            raise WeightsError(f"{path} is corrupt: the list of storage keys is missing.")

        # PyTorch writes each storage's element count and data little-endian,
        # whatever the byte order of the machine that saved it.
        storages = {}
        for key in keys:
            ref = unpickler.storages.get(str(key))
            if ref is None:
                raise WeightsError(f"{path} lists storage {key!r}, which no tensor uses.")
            header = handle.read(8)
            if len(header) != 8:
                raise WeightsError(f"{path} is truncated: storage {key!r} is missing.")
            numel = int.from_bytes(header, "little", signed=True)
            if numel != ref.numel:
                raise WeightsError(
                    f"{path}: storage {key!r} contains {numel} elements, "
                    f"its tensors expect {ref.numel}."
                )
            raw = handle.read(numel * ref.storage_type.dtype.itemsize)
            storages[str(key)] = _decode_storage(raw, ref, "little", path)
    return tree, storages


def _unpickle(unpickler: _StateDictUnpickler, path: Path) -> Any:
    try:
        return unpickler.load()
    except WeightsError:
        raise
    except _PICKLE_ERRORS as error:
        raise WeightsError(
            f"{path} is corrupt or truncated ({error}). Download it again."
        ) from error


def _decode_storage(raw: bytes, ref: _StorageRef, byteorder: str, path: Path) -> np.ndarray:
    """Turn a storage's raw bytes into a 1-D array in native byte order."""
    if byteorder not in ("little", "big"):
        raise WeightsError(f"{path} names an unknown byte order {byteorder!r}.")
    dtype = ref.storage_type.dtype
    expected = ref.numel * dtype.itemsize
    if len(raw) < expected:
        raise WeightsError(
            f"{path} is truncated: storage {ref.key!r} has {len(raw)} bytes, expected {expected}."
        )

    array = np.frombuffer(
        raw, dtype=dtype.newbyteorder("<" if byteorder == "little" else ">"), count=ref.numel
    )
    if byteorder != sys.byteorder:
        array = array.astype(dtype)
    if ref.storage_type.name == "BFloat16Storage":
        # bfloat16 is the upper half of a float32.
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _collect_tensors(
    tree: Any, storages: dict[str, np.ndarray], path: Path
) -> dict[str, np.ndarray]:
    if not isinstance(tree, dict):
        raise WeightsError(
            f"{path} contains a pickled {type(tree).__name__}, not a state dict of tensors."
        )
    arrays = {}
    for name, value in tree.items():
        if not isinstance(value, _TensorRef):
            raise WeightsError(
                f"{path}: entry {name!r} has type {type(value).__name__}, not a tensor. "
                "Use a file written by `torch.save(model.state_dict(), path)`."
            )
        arrays[str(name)] = _materialize(value, storages[value.storage.key], name, path)
    logger.debug("Read %d tensors from %s", len(arrays), path)
    return arrays


def _materialize(tensor: _TensorRef, storage: np.ndarray, name: str, path: Path) -> np.ndarray:
    """Copy a tensor out of its storage, honouring offset, size and stride."""
    ref = tensor.storage
    if ref.view_size is not None:
        storage = storage[ref.view_offset : ref.view_offset + ref.view_size]

    size, stride, offset = tensor.size, tensor.stride, tensor.offset
    if (
        len(size) != len(stride)
        or min(size, default=0) < 0
        or min(stride, default=0) < 0
        or offset < 0
    ):
        raise WeightsError(
            f"{path}: tensor {name!r} has an invalid layout "
            f"(size {size}, stride {stride}, offset {offset})."
        )
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)

    # as_strided does no bounds checks, so check the last element it reads.
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= storage.size:
        raise WeightsError(
            f"{path}: tensor {name!r} (size {size}, stride {stride}, offset {offset}) reads past "
            f"the end of its storage of {storage.size} elements."
        )
    window = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=size,
        strides=[s * storage.itemsize for s in stride],
        writeable=False,
    )
    return np.array(window, order="C")
