"""Turning a folder or archive of images into a validated, split dataset.

Expected layout, one folder per class (the names become the labels):

```
my_images.zip                 or a folder
  [up to four wrapping folders, stepped into]
    cats/  a.jpg  b.png  more/c.jpg      sub-folders count for their class
    dogs/  d.jpg  ...
```

or, with the split given by folders:

```
    train/ cats/ dogs/
    val/   cats/ dogs/            also "valid" or "validation"
    test/  cats/ dogs/            may be missing: see `ingest`
```

`ingest` decodes every candidate image once, skips unusable files with a
reason, splits the images, and records what it found in an `IngestReport`.
`open_dataset` does the same into `<data_root>/datasets/<dataset_id>/` and
reuses that folder when the same source is opened again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tl_core import settings
from tl_core.archive import ExtractLimits, extract_archive, is_archive_name
from tl_core.dataset_arrays import DECODE_THREADS, ProgressCallback, load_split
from tl_core.dataset_layout import (
    MIN_CLASSES,
    MIN_IMAGES_PER_CLASS,
    check_candidate_counts,
    list_visible_files,
    scan_layout,
)
from tl_core.dataset_notices import (
    EXTREME_ASPECT_RATIO,
    IMBALANCE_RATIO,
    SMALL_IMAGE_SIDE,
    TINY_CLASS_IMAGES,
    balance_notices,
    duplicate_notices,
    image_shape_notices,
    loose_file_notices,
)
from tl_core.dataset_report import NOTICE_CODES, SKIP_CODES, SPLITS, IngestReport, Notice, SkippedFile
from tl_core.errors import DatasetError, ImageDecodeError
from tl_core.images import MAX_PIXELS_DEFAULT, decode_image
from tl_core.splits import DEFAULT_SPLIT, assign_splits, build_items, check_split_fractions

__all__ = [
    "DATASET_ERROR_CODES",
    "DATASET_FILE",
    "DEFAULT_SPLIT",
    "EXTREME_ASPECT_RATIO",
    "FORMAT_VERSION",
    "IMBALANCE_RATIO",
    "MIN_CLASSES",
    "MIN_IMAGES_PER_CLASS",
    "NOTICE_CODES",
    "SKIP_CODES",
    "SMALL_IMAGE_SIDE",
    "SPLITS",
    "TINY_CLASS_IMAGES",
    "Dataset",
    "IngestReport",
    "Notice",
    "ProgressCallback",
    "SkippedFile",
    "compute_dataset_id",
    "ingest",
    "load_split",
    "open_dataset",
]

logger = logging.getLogger(__name__)

DATASET_FILE = "dataset.json"
FORMAT_VERSION = 1

# Codes of DatasetError, with the short English label the UI can show.
DATASET_ERROR_CODES = {
    "source_not_found": "the dataset file or folder does not exist",
    "invalid_split": "the split fractions are not valid",
    "too_few_classes": "fewer than 2 class folders contain images",
    "too_few_images": "a class has fewer than 2 usable images",
    "work_folder_not_empty": "the work folder for extraction is not empty",
    "unreadable_dataset_file": "dataset.json cannot be read",
    "unknown_split": "the split name is not train, val or test",
    "files_changed": "an image changed or disappeared after ingestion",
}


@dataclass
class Dataset:
    """A validated, split image dataset.

    `items` maps each split to (path relative to `root`, label index) pairs,
    sorted by label, then path. `folder` is the folder that contains
    dataset.json and the array cache, or None before `save` or `load`.
    """

    root: Path
    classes: list[str]
    items: dict[str, list[tuple[str, int]]]
    report: IngestReport
    dataset_id: str
    source_name: str = ""
    max_pixels: int = MAX_PIXELS_DEFAULT
    folder: Path | None = None

    def counts(self) -> dict[str, int]:
        """Return the number of images per split."""
        return {split: len(self.items.get(split, [])) for split in SPLITS}

    def save(self, path: Path) -> None:
        """Write dataset.json atomically; `root` is stored relative to it when inside its folder."""
        path = Path(path)
        folder = path.parent.resolve()
        root = self.root.resolve()
        stored_root = root.relative_to(folder).as_posix() if root.is_relative_to(folder) else str(root)
        data = {
            "format_version": FORMAT_VERSION,
            "dataset_id": self.dataset_id,
            "source_name": self.source_name,
            "root": stored_root,
            "max_pixels": self.max_pixels,
            "classes": self.classes,
            "items": {split: [[item_path, label] for item_path, label in pairs] for split, pairs in self.items.items()},
            "report": self.report.to_dict(),
        }
        _write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=1))
        self.folder = folder

    @classmethod
    def load(cls, path: Path) -> Dataset:
        """Read a dataset.json written by `save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise DatasetError(
                f"Cannot read {path}: {error}. Delete its folder and open the dataset again.",
                "unreadable_dataset_file",
                {"path": str(path)},
            ) from error
        if data.get("format_version") != FORMAT_VERSION:
            raise DatasetError(
                f"{path} has format version {data.get('format_version')}, expected {FORMAT_VERSION}. "
                "Delete its folder and open the dataset again.",
                "unreadable_dataset_file",
                {"path": str(path)},
            )
        folder = path.parent.resolve()
        return cls(
            root=(folder / data["root"]).resolve(),
            classes=list(data["classes"]),
            items={split: [(item_path, int(label)) for item_path, label in pairs] for split, pairs in data["items"].items()},
            report=IngestReport.from_dict(data["report"]),
            dataset_id=data["dataset_id"],
            source_name=data.get("source_name", ""),
            max_pixels=int(data.get("max_pixels", MAX_PIXELS_DEFAULT)),
            folder=folder,
        )


# ---------------------------------------------------------------- ingestion


def ingest(
    source: Path,
    workdir: Path,
    *,
    split: Sequence[float] = DEFAULT_SPLIT,
    seed: int = 0,
    limits: ExtractLimits = ExtractLimits(),
    max_pixels: int = MAX_PIXELS_DEFAULT,
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Read, validate and split an image dataset.

    Args:
        source: a zip or tar archive, extracted into `workdir/files`, or a
            folder, read in place.
        workdir: a folder for extracted files. `workdir/files` must be empty
            or missing. Unused for a folder source.
        split: train, val and test fractions, used when the source has no
            split folders, and to carve a missing val or test split from
            train.
        seed: seed of the random split; the same source, split and seed
            give the same items.
        limits: caps applied to archives (see `ExtractLimits`).
        max_pixels: larger images are skipped as possible decompression bombs.
        progress: called as progress(done, total) while images are decoded.

    With train/ and val/ or test/ folders, their images keep their split. A
    missing val or test split is carved from each class's train images, the
    carved share being val/(train+val) or test/(train+test) of `split`.
    Otherwise each class is split on its own, with at least one image in
    every split with a non-zero fraction when the class has 3 or more
    distinct images. Identical files always land in the same split.

    An archive whose only file is another archive (a zip inside a zip) is
    extracted one level further. Archives next to other files are skipped.

    Every skipped file has a code from SKIP_CODES and every warning a code
    from NOTICE_CODES.

    Raises:
        DatasetError: the source is missing, fewer than 2 classes contain
            images, or a class has fewer than 2 usable images. Its `code` is
            a key of DATASET_ERROR_CODES.
        ArchiveError: the archive is unsafe or unreadable.
    """
    fractions = check_split_fractions(split)
    source = Path(source)
    if not source.exists():
        raise DatasetError(
            f"Dataset source not found: {source}. Check the path.", "source_not_found", {"name": source.name}
        )

    root, skipped, source_notices = _prepare_root(source, Path(workdir), limits)
    scan = scan_layout(root)
    scan.notices[:0] = source_notices
    skipped.extend(scan.skipped)
    check_candidate_counts(scan, source.name, skipped)

    digests, sizes, decode_skips = _validate_images(root, scan.all_paths(), max_pixels, progress)
    skipped.extend(decode_skips)
    emptied = scan.keep_only(set(digests))
    if emptied:
        scan.notices.append(
            Notice(
                "empty_class",
                f"Ignored {len(emptied)} class folder(s) whose images all failed to decode: {', '.join(emptied)}.",
                {"classes": emptied},
            )
        )
    check_candidate_counts(scan, source.name, skipped)

    classes = sorted(scan.class_names())
    assignment, notices = assign_splits(scan, digests, fractions, seed)
    notices = scan.notices + notices + duplicate_notices(assignment, digests)
    notices += balance_notices(assignment, classes)
    notices += loose_file_notices(skipped)
    notices += image_shape_notices({path: sizes[path] for path in scan.all_paths()})

    items = build_items(assignment, classes)
    report = IngestReport(
        classes=classes,
        counts={name: {s: len(assignment[name][s]) for s in SPLITS} for name in classes},
        skipped=skipped,
        warnings=notices,
        split_source="folders" if scan.split_folders else "random",
    )
    dataset_id = compute_dataset_id(source, fractions, seed, max_pixels)
    logger.info(
        "Ingested %s: %d classes, %d images, %d skipped, %d warnings",
        source.name, len(classes), report.total(), len(skipped), len(notices),
    )
    return Dataset(root, classes, items, report, dataset_id, source.name, max_pixels)


def _prepare_root(
    source: Path, workdir: Path, limits: ExtractLimits
) -> tuple[Path, list[SkippedFile], list[Notice]]:
    """Return the folder to scan, the skipped archive entries, and a notice when a nested archive was opened."""
    if source.is_dir():
        return source.resolve(), [], []

    files_dir = _empty_folder(workdir / "files")
    entries = extract_archive(source, files_dir, limits)
    skipped = [SkippedFile(entry.path, entry.code, entry.reason) for entry in entries]

    # People often zip a downloaded zip again. When the archive contains only
    # one archive, that one is extracted (one level only) with the remaining
    # byte budget, and its folder becomes the dataset root.
    visible = list_visible_files(files_dir)
    if len(visible) != 1 or not is_archive_name(visible[0].name):
        return files_dir.resolve(), skipped, []

    inner = visible[0]
    inner_path = inner.relative_to(files_dir).as_posix()
    inner_dir = _empty_folder(workdir / "inner")
    used_bytes = inner.stat().st_size
    inner_limits = dataclasses.replace(limits, max_total_bytes=max(0, limits.max_total_bytes - used_bytes))
    inner_entries = extract_archive(inner, inner_dir, inner_limits)
    # The outer folder now contains only the inner archive and metadata files.
    shutil.rmtree(files_dir)
    logger.info("%s contains only the archive %s; using its content", source.name, inner_path)
    notice = Notice(
        "nested_archive_opened",
        f"{source.name} contains only the archive {inner_path}, so its content was used.",
        {"path": inner_path},
    )
    skipped += [SkippedFile(f"{inner_path}/{entry.path}", entry.code, entry.reason) for entry in inner_entries]
    return inner_dir.resolve(), skipped, [notice]


def _empty_folder(folder: Path) -> Path:
    if folder.exists() and any(folder.iterdir()):
        raise DatasetError(
            f"{folder} is not empty. Pass an empty work folder to ingest.",
            "work_folder_not_empty",
            {"path": str(folder)},
        )
    return folder


# ---------------------------------------------------------------- validation


def _validate_images(
    root: Path,
    paths: list[str],
    max_pixels: int,
    progress: ProgressCallback | None,
) -> tuple[dict[str, str], dict[str, tuple[int, int]], list[SkippedFile]]:
    """Decode every image once; return the sha256 and upright (width, height) of each valid file, and the skipped ones."""
    digests: dict[str, str] = {}
    sizes: dict[str, tuple[int, int]] = {}
    skipped: list[SkippedFile] = []
    total = len(paths)
    if progress:
        progress(0, total)

    def check(relative: str) -> tuple[str, str | None, tuple[int, int] | None, SkippedFile | None]:
        try:
            data = (root / relative).read_bytes()
        except OSError as error:
            return relative, None, None, SkippedFile(relative, "unreadable", f"cannot read the file ({error.strerror})")
        stream = io.BytesIO(data)
        stream.name = relative
        try:
            image = decode_image(stream, max_pixels=max_pixels)
        except ImageDecodeError as error:
            return relative, None, None, SkippedFile(relative, error.code, error.reason)
        return relative, hashlib.sha256(data).hexdigest(), image.size, None

    with ThreadPoolExecutor(max_workers=DECODE_THREADS) as pool:
        for done, (relative, digest, size, skip) in enumerate(pool.map(check, paths), start=1):
            if skip is None:
                digests[relative] = digest
                sizes[relative] = size
            else:
                skipped.append(skip)
                logger.info("Skipped %s: %s", relative, skip.reason)
            if progress:
                progress(done, total)
    return digests, sizes, skipped


# ----------------------------------------------------- dataset folder, cache


def compute_dataset_id(
    source: Path,
    split: Sequence[float] = DEFAULT_SPLIT,
    seed: int = 0,
    max_pixels: int = MAX_PIXELS_DEFAULT,
) -> str:
    """Return "<name>-<12 hex digits>" from the source content and the ingestion settings.

    An archive is hashed by its bytes. A folder is hashed by its files'
    relative paths, sizes and modification times, so editing it gives a new id.
    """
    source = Path(source)
    content = _folder_digest(source) if source.is_dir() else _file_digest(source)
    settings_text = json.dumps([FORMAT_VERSION, [round(float(value), 6) for value in split], seed, max_pixels])
    digest = hashlib.sha256(f"{content}|{settings_text}".encode()).hexdigest()[:12]
    stem = source.name.split(".")[0] if source.is_file() else source.name
    slug = re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")[:40]
    return f"{slug}-{digest}" if slug else digest


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024**2):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for current, folder_names, file_names in os.walk(folder):
        folder_names.sort()
        for name in sorted(file_names):
            path = Path(current) / name
            try:
                info = path.stat()
            except OSError:
                continue
            digest.update(f"{path.relative_to(folder).as_posix()}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def open_dataset(source: Path, data_root: Path | None = None, **ingest_kwargs) -> Dataset:
    """Ingest `source` into <data_root>/datasets/<dataset_id>/, or load it from there.

    The dataset is built in a hidden ".build-..." folder next to its final
    place and renamed into place once dataset.json is written, so a crash
    never leaves a folder that looks complete. `ingest_kwargs` go to `ingest`.
    """
    source = Path(source)
    if not source.exists():
        raise DatasetError(
            f"Dataset source not found: {source}. Check the path.", "source_not_found", {"name": source.name}
        )
    datasets_dir = Path(data_root or settings.data_root()) / "datasets"
    dataset_id = compute_dataset_id(
        source,
        ingest_kwargs.get("split", DEFAULT_SPLIT),
        ingest_kwargs.get("seed", 0),
        ingest_kwargs.get("max_pixels", MAX_PIXELS_DEFAULT),
    )
    final = datasets_dir / dataset_id
    if (final / DATASET_FILE).is_file():
        logger.info("Reusing dataset %s", final)
        return Dataset.load(final / DATASET_FILE)

    datasets_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(datasets_dir)
    build = datasets_dir / f".build-{dataset_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        dataset = ingest(source, build, **ingest_kwargs)
        dataset.dataset_id = dataset_id
        build.mkdir(parents=True, exist_ok=True)
        dataset.save(build / DATASET_FILE)
        _move_into_place(build, final)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return Dataset.load(final / DATASET_FILE)


def _move_into_place(build: Path, final: Path) -> None:
    if final.exists() and not (final / DATASET_FILE).is_file():
        # Only a rename creates dataset folders, so one without dataset.json
        # is left over from an interrupted run and contains nothing of value.
        shutil.rmtree(final)
    try:
        os.rename(build, final)
    except OSError:
        if not (final / DATASET_FILE).is_file():
            raise
        logger.info("Dataset %s was built concurrently; keeping the existing copy", final.name)


def _remove_stale_builds(datasets_dir: Path, max_age_s: float = 24 * 3600) -> None:
    """Delete build folders of crashed processes (on POSIX) or older than `max_age_s`."""
    for path in datasets_dir.glob(".build-*"):
        try:
            pid = int(path.name.split("-")[-2])
            age = time.time() - path.stat().st_mtime
        except (ValueError, IndexError, OSError):
            continue
        if age > max_age_s or (os.name == "posix" and pid != os.getpid() and not _process_alive(pid)):
            logger.info("Removing stale dataset build folder %s", path)
            shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # POSIX only: signal 0 checks existence without sending anything
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_text_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)

