"""Fuzzing the archive reader and ingestion with random bytes and mutated archives.

Each example is written to one input file, extracted with `extract_archive`
and ingested with `ingest`. Both may return or raise a TLError; anything
else fails the test. After each example, nothing may have changed outside
the two destination folders: a sentinel folder next to them and the
listing of their parent folders are compared with their state before.

The time budget is TL_FUZZ_SECONDS (default 120 seconds), shared by the
two tests: a quarter for random bytes, the rest for mutated archives.
Hypothesis runs batches of examples until the budget is spent; a failure
is shrunk and reported with the input that caused it.
"""

import io
import os
import shutil
import tarfile
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures_data import class_tree, write_legacy_name_zip
from tl_core.archive import ExtractLimits, extract_archive
from tl_core.datasets import ingest
from tl_core.errors import TLError

BUDGET_S = float(os.environ.get("TL_FUZZ_SECONDS", "120"))
# Small caps keep each example fast; the cap checks themselves are the same.
LIMITS = ExtractLimits(max_total_bytes=4 * 1024**2, max_files=300, max_ratio=200.0)
BATCH = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
SENTINEL_TEXT = b"must stay unchanged"
# Signatures placed in front of random bytes so that they reach the zip,
# tar and compression readers, not only the format detection.
MAGICS = [b"", b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b\x08", b"BZh9", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07"]


class Sandbox:
    """An input file and a box folder with a sentinel, checked after every example."""

    def __init__(self, root: Path):
        self.root = root
        self.box = root / "box"
        self.sentinel = self.box / "sentinel"
        self.sentinel.mkdir(parents=True)
        (self.sentinel / "keep.txt").write_bytes(SENTINEL_TEXT)
        self.input = root / "input.bin"
        self.dest = self.box / "out"
        self.work = self.box / "work"

    def run(self, data: bytes, outcomes: Counter) -> None:
        self.input.write_bytes(data)
        try:
            extract_archive(self.input, self.dest, LIMITS)
            outcomes["extracted"] += 1
        except TLError:
            outcomes["extract_rejected"] += 1
        try:
            ingest(self.input, self.work, limits=LIMITS)
            outcomes["ingested"] += 1
        except TLError:
            outcomes["ingest_rejected"] += 1
        try:
            self.check()
        finally:
            shutil.rmtree(self.dest, ignore_errors=True)
            shutil.rmtree(self.work, ignore_errors=True)

    def check(self) -> None:
        assert sorted(path.name for path in self.root.iterdir()) == ["box", "input.bin"]
        assert {path.name for path in self.box.iterdir()} <= {"sentinel", "out", "work"}
        assert [path.name for path in self.sentinel.iterdir()] == ["keep.txt"]
        assert (self.sentinel / "keep.txt").read_bytes() == SENTINEL_TEXT
        for folder in (self.dest, self.work):
            if not folder.exists():
                continue
            for current, folder_names, file_names in os.walk(folder):
                for name in folder_names + file_names:
                    path = Path(current) / name
                    assert not path.is_symlink(), path
                    assert path.resolve().is_relative_to(folder.resolve()), path


def zip_archive(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED, links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def tar_archive(files: dict[str, bytes], mode: str = "w", links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        hard = tarfile.TarInfo("cats/hard.png")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "../../sentinel/keep.txt"
        archive.addfile(hard)
    return buffer.getvalue()


def seed_archives(sandbox: Sandbox, scratch: Path) -> list[bytes]:
    """Return valid archives of a small dataset plus entries that try to escape the box."""
    files = class_tree({"cats": 3, "dogs": 3})
    escapes = {
        "../sentinel/pwned.txt": b"x",
        "../../pwned.txt": b"x",
        "cats\\..\\..\\pwned.txt": b"x",
        str(sandbox.box / "pwned_absolute.txt"): b"x",
        "cats/link/pwned.txt": b"x",
    }
    links = {"cats/link": "../../sentinel", "dogs/abs": str(sandbox.sentinel)}
    hostile = {**files, **escapes}
    legacy = write_legacy_name_zip(scratch / "legacy.zip", class_tree({"猫": 2, "狗": 2}, prefix="数据/"), "gbk")
    return [
        zip_archive(hostile, links=links),
        zip_archive(hostile, zipfile.ZIP_STORED, links=links),
        zip_archive(files, zipfile.ZIP_BZIP2),
        zip_archive(files, zipfile.ZIP_LZMA),
        zip_archive({"outer/pets.zip": zip_archive(files)}),
        legacy.read_bytes(),
        tar_archive(hostile, "w", links),
        tar_archive(hostile, "w:gz", links),
        tar_archive(files, "w:bz2"),
        tar_archive(files, "w:xz"),
    ]


def mutate(data: bytes, operations: list[tuple]) -> bytes:
    content = bytearray(data)
    for kind, position, value in operations:
        if not content:
            break
        index = position % len(content)
        if kind == "flip":
            content[index] ^= value % 255 + 1
        elif kind == "set_u32":
            content[index : index + 4] = value.to_bytes(4, "little")
        elif kind == "insert":
            content[index:index] = value
        elif kind == "delete":
            del content[index : index + len(value) + 1]
        elif kind == "truncate":
            del content[index:]
        elif kind == "duplicate":
            content[index:index] = content[index : index + 64]
    return bytes(content)


OPERATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**20), st.integers(0, 255)),
    st.tuples(st.just("set_u32"), st.integers(0, 2**20), st.sampled_from([0, 1, 0xFF, 0xFFFF, 2**31, 2**32 - 1])),
    st.tuples(st.just("insert"), st.integers(0, 2**20), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 2**20), st.binary(max_size=16)),
    st.tuples(st.just("truncate"), st.integers(0, 2**20), st.none()),
    st.tuples(st.just("duplicate"), st.integers(0, 2**20), st.none()),
)


def run_for(seconds: float, batch) -> int:
    deadline = time.monotonic() + seconds
    batches = 0
    while time.monotonic() < deadline:
        batch()
        batches += 1
    return batches


@pytest.fixture
def sandbox(tmp_path):
    return Sandbox(tmp_path / "fuzz")


def test_fuzz_random_bytes(sandbox):
    outcomes = Counter()

    @BATCH
    @given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=2048))
    def one_input(magic, tail):
        sandbox.run(magic + tail, outcomes)

    run_for(BUDGET_S * 0.25, one_input)

    assert outcomes["extract_rejected"] >= 100
    assert sum(outcomes.values()) >= 200


def test_fuzz_mutated_archives(sandbox, tmp_path):
    seeds = seed_archives(sandbox, tmp_path)
    outcomes = Counter()

    @BATCH
    @given(seed=st.integers(0, len(seeds) - 1), operations=st.lists(OPERATION, max_size=6))
    def one_archive(seed, operations):
        sandbox.run(mutate(seeds[seed], operations), outcomes)

    run_for(BUDGET_S * 0.75, one_archive)

    # Both paths must have been exercised for the budget to mean something.
    assert outcomes["extracted"] >= 20
    assert outcomes["extract_rejected"] >= 20
    assert outcomes["ingested"] >= 5
