"""Turning a folder or archive of images into a validated, split dataset.

Expected layout, one folder per class (the names become the labels):

```
my_images.zip                 or a folder
  [one or two wrapping folders, stepped into]
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

import hashlib
import io
import json
import logging
import os
import random
import re
import shutil
import time
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tl_core import settings
from tl_core.archive import ExtractLimits, extract_archive
from tl_core.errors import DatasetError, ImageDecodeError
from tl_core.images import IMAGE_EXTENSIONS, MAX_PIXELS_DEFAULT, decode_image, is_image_name, load_resized

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DEFAULT_SPLIT = (0.7, 0.15, 0.15)
DATASET_FILE = "dataset.json"
FORMAT_VERSION = 1

MIN_CLASSES = 2
MIN_IMAGES_PER_CLASS = 2
TINY_CLASS_IMAGES = 10
IMBALANCE_RATIO = 3.0

ProgressCallback = Callable[[int, int], None]

_SPLIT_FOLDER_NAMES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}
_MAX_WRAPPER_DEPTH = 2
_SYSTEM_FILE_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
_KNOWN_UNSUPPORTED_IMAGES = {
    ".heic": "HEIC",
    ".heif": "HEIF",
    ".avif": "AVIF",
    ".svg": "SVG",
    ".psd": "Photoshop",
    ".dng": "raw camera",
    ".cr2": "raw camera",
    ".nef": "raw camera",
    ".arw": "raw camera",
}
_MAX_EXAMPLES = 20
_DECODE_THREADS = min(8, os.cpu_count() or 1)


@dataclass
class Notice:
    """A warning about the dataset; `code` and `params` let the UI translate it."""

    code: str
    message: str
    params: dict = field(default_factory=dict)


@dataclass
class SkippedFile:
    """A file left out of the dataset; `path` is relative to the dataset or archive root."""

    path: str
    code: str
    reason: str


@dataclass
class IngestReport:
    """Result of ingestion: classes, counts per split, skipped files and warnings."""

    classes: list[str]
    counts: dict[str, dict[str, int]]
    skipped: list[SkippedFile]
    warnings: list[Notice]
    split_source: str  # "folders" or "random"

    def total(self) -> int:
        """Return the number of images in all classes and splits."""
        return sum(sum(per_split.values()) for per_split in self.counts.values())

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> IngestReport:
        return cls(
            classes=list(data["classes"]),
            counts={name: dict(per_split) for name, per_split in data["counts"].items()},
            skipped=[SkippedFile(**item) for item in data["skipped"]],
            warnings=[Notice(**item) for item in data["warnings"]],
            split_source=data["split_source"],
        )


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
            raise DatasetError(f"Cannot read {path}: {error}. Delete its folder and open the dataset again.") from error
        if data.get("format_version") != FORMAT_VERSION:
            raise DatasetError(
                f"{path} has format version {data.get('format_version')}, expected {FORMAT_VERSION}. "
                "Delete its folder and open the dataset again."
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

    Raises:
        DatasetError: the source is missing, fewer than 2 classes contain
            images, or a class has fewer than 2 usable images.
        ArchiveError: the archive is unsafe or unreadable.
    """
    fractions = _check_split(split)
    source = Path(source)
    if not source.exists():
        raise DatasetError(f"Dataset source not found: {source}. Check the path.")

    root, skipped = _prepare_root(source, Path(workdir), limits)
    scan = _scan_layout(root)
    skipped.extend(scan.skipped)
    _check_candidate_counts(scan, source.name, skipped)

    digests, decode_skips = _validate_images(root, scan.all_paths(), max_pixels, progress)
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
    _check_candidate_counts(scan, source.name, skipped)

    classes = sorted(scan.class_names())
    assignment, notices = _assign_splits(scan, digests, fractions, seed)
    notices = scan.notices + notices + _duplicate_notices(assignment, digests)
    notices += _balance_notices(assignment, classes)
    notices += _loose_file_notices(skipped)

    items = _build_items(assignment, classes)
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


def _check_split(split: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(value) for value in split)
    if len(values) != 3 or any(value < 0 for value in values) or values[0] <= 0 or abs(sum(values) - 1) > 1e-6:
        raise DatasetError(
            "split must be three fractions (train, val, test) that are >= 0, with train > 0, "
            f"summing to 1, for example (0.7, 0.15, 0.15); received {tuple(split)!r}"
        )
    return values


def _prepare_root(source: Path, workdir: Path, limits: ExtractLimits) -> tuple[Path, list[SkippedFile]]:
    if source.is_dir():
        return source.resolve(), []

    files_dir = workdir / "files"
    if files_dir.exists() and any(files_dir.iterdir()):
        raise DatasetError(f"{files_dir} is not empty. Pass an empty work folder to ingest.")
    entries = extract_archive(source, files_dir, limits)
    return files_dir.resolve(), [SkippedFile(entry.path, entry.code, entry.reason) for entry in entries]


# ------------------------------------------------------------- folder layout


@dataclass
class _Scan:
    """Candidate image paths by class and split; split None means "to be split"."""

    root: Path
    candidates: dict[str, dict[str | None, list[str]]] = field(default_factory=dict)
    split_folders: set[str] = field(default_factory=set)
    skipped: list[SkippedFile] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def add(self, class_name: str, split: str | None, paths: list[str]) -> None:
        self.candidates.setdefault(class_name, {}).setdefault(split, []).extend(paths)

    def class_names(self) -> list[str]:
        return list(self.candidates)

    def class_total(self, class_name: str) -> int:
        return sum(len(paths) for paths in self.candidates[class_name].values())

    def all_paths(self) -> list[str]:
        return [path for by_split in self.candidates.values() for paths in by_split.values() for path in paths]

    def keep_only(self, valid: set[str]) -> list[str]:
        """Drop paths not in `valid`; return the classes left without images, which are removed."""
        emptied = []
        for class_name, by_split in list(self.candidates.items()):
            for split in by_split:
                by_split[split] = [path for path in by_split[split] if path in valid]
            if not any(by_split.values()):
                emptied.append(class_name)
                del self.candidates[class_name]
        return sorted(emptied)


def _scan_layout(root: Path) -> _Scan:
    scan = _Scan(root)
    folders, files = _step_into_wrappers(root, scan)

    split_dirs: dict[str, list[Path]] = defaultdict(list)
    other_dirs = []
    for folder in folders:
        split = _split_for_folder(folder.name)
        (split_dirs[split] if split else other_dirs).append(folder)
    use_split_folders = "train" in split_dirs and ("val" in split_dirs or "test" in split_dirs)

    _skip_loose_files(files, root, scan)
    if not use_split_folders:
        _scan_classes({None: folders}, root, scan)
        return scan

    scan.split_folders = set(split_dirs)
    for folder in other_dirs:
        count = _count_files(folder)
        scan.skipped.append(
            SkippedFile(
                _relative(folder, root),
                "extra_folder",
                f"folder next to the split folders train/val/test, not inside one ({count} files)",
            )
        )
    _scan_classes(dict(split_dirs), root, scan)
    return scan


def _step_into_wrappers(root: Path, scan: _Scan) -> tuple[list[Path], list[Path]]:
    """Return the folders and files of the level that contains the class or split folders."""
    level = root
    for depth in range(_MAX_WRAPPER_DEPTH + 1):
        folders, files = _list_visible(level, root, scan.skipped)
        is_wrapper = len(folders) == 1 and _has_visible_subfolder(folders[0])
        if depth == _MAX_WRAPPER_DEPTH or not is_wrapper:
            return folders, files
        _skip_loose_files(files, root, scan)
        level = folders[0]
    raise AssertionError("unreachable")


def _split_for_folder(name: str) -> str | None:
    lowered = name.lower()
    for split, names in _SPLIT_FOLDER_NAMES.items():
        if lowered in names:
            return split
    return None


def _scan_classes(folders_by_split: dict[str | None, list[Path]], root: Path, scan: _Scan) -> None:
    seen_classes: set[str] = set()
    for split, split_folders in folders_by_split.items():
        class_folders: list[Path] = []
        for folder in split_folders:
            if split is None:
                class_folders.append(folder)
                continue
            sub_folders, files = _list_visible(folder, root, scan.skipped)
            _skip_loose_files(files, root, scan)
            class_folders.extend(sub_folders)

        for folder in class_folders:
            class_name = unicodedata.normalize("NFC", folder.name)
            seen_classes.add(class_name)
            paths = _collect_images(folder, root, scan.skipped)
            if paths:
                scan.add(class_name, split, paths)

    empty = sorted(seen_classes - set(scan.candidates))
    if empty:
        scan.notices.append(
            Notice(
                "empty_class",
                f"Ignored {len(empty)} class folder(s) without images: {', '.join(empty)}.",
                {"classes": empty},
            )
        )


def _list_visible(folder: Path, root: Path, skipped: list[SkippedFile]) -> tuple[list[Path], list[Path]]:
    """List a folder's sub-folders and files, recording hidden, system and link entries as skipped."""
    folders, files = [], []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda item: item.name):
            path = Path(entry.path)
            skip = _ignored_entry_reason(entry)
            if skip is not None:
                skipped.append(SkippedFile(_relative(path, root), *skip))
            elif entry.is_dir(follow_symlinks=False):
                folders.append(path)
            else:
                files.append(path)
    return folders, files


def _ignored_entry_reason(entry: os.DirEntry) -> tuple[str, str] | None:
    """Return (code, reason) for an entry that is not part of the dataset, else None."""
    name = entry.name
    lowered = name.lower()
    is_dir = entry.is_dir(follow_symlinks=False)
    if is_dir and lowered == "__macosx":
        return "system_file", f"macOS metadata folder ({_count_files(Path(entry.path))} files)"
    if lowered in _SYSTEM_FILE_NAMES or name.startswith("._"):
        return "system_file", "operating system metadata file"
    if name.startswith("."):
        if is_dir:
            return "hidden", f"hidden folder ({_count_files(Path(entry.path))} files)"
        return "hidden", "hidden file"
    if entry.is_symlink() and entry.is_dir():
        return "symlink", "link to a folder; links to folders are not followed"
    if not is_dir and not entry.is_file():
        return "special_file", "not a regular file (broken link, device or pipe)"
    return None


def _has_visible_subfolder(folder: Path) -> bool:
    folders, _ = _list_visible(folder, folder, [])
    return bool(folders)


def _collect_images(folder: Path, root: Path, skipped: list[SkippedFile]) -> list[str]:
    """Return the image paths under a class folder, including its sub-folders."""
    folders, files = _list_visible(folder, root, skipped)
    paths = []
    for path in files:
        if is_image_name(path.name):
            paths.append(_relative(path, root))
        else:
            skipped.append(SkippedFile(_relative(path, root), "unsupported_type", _unsupported_type_reason(path)))
    for sub_folder in folders:
        paths.extend(_collect_images(sub_folder, root, skipped))
    return paths


def _skip_loose_files(files: Iterable[Path], root: Path, scan: _Scan) -> None:
    for path in files:
        relative = _relative(path, root)
        if is_image_name(path.name):
            scan.skipped.append(
                SkippedFile(relative, "loose_file", "image outside any class folder; move it into its class folder")
            )
        else:
            scan.skipped.append(SkippedFile(relative, "unsupported_type", _unsupported_type_reason(path)))


def _unsupported_type_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _KNOWN_UNSUPPORTED_IMAGES:
        return f"{_KNOWN_UNSUPPORTED_IMAGES[suffix]} images are not supported; convert them to JPEG or PNG"
    extension_text = f"'{suffix}'" if suffix else "a file without extension"
    return f"{extension_text} is not an image type; supported: {', '.join(sorted(IMAGE_EXTENSIONS))}"


def _count_files(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder))


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _check_candidate_counts(scan: _Scan, source_name: str, skipped: list[SkippedFile]) -> None:
    names = sorted(name for name in scan.class_names() if scan.class_total(name) > 0)
    if len(names) < MIN_CLASSES:
        found = f"{len(names)} class ({names[0]!r})" if names else "no class folder with images"
        loose = sum(1 for item in skipped if item.code == "loose_file")
        hint = f" {loose} images lie outside any class folder." if loose else ""
        raise DatasetError(
            f"Found {found} in {source_name}, but training needs at least {MIN_CLASSES} classes.{hint} "
            "Put each class's images in its own folder (for example cats/001.jpg and dogs/001.jpg) "
            "and zip those folders together."
        )

    for name in names:
        count = scan.class_total(name)
        if count < MIN_IMAGES_PER_CLASS:
            raise DatasetError(
                f"Class {name!r} has {count} usable image, but each class needs at least "
                f"{MIN_IMAGES_PER_CLASS} (to train on and to test with).{_class_skip_summary(name, skipped)} "
                f"Add images to {name!r} or remove that folder."
            )


def _class_skip_summary(class_name: str, skipped: list[SkippedFile]) -> str:
    own = [item for item in skipped if class_name in item.path.split("/")]
    if not own:
        return ""
    examples = "; ".join(f"{item.path}: {item.reason}" for item in own[:3])
    return f" {len(own)} of its files were skipped ({examples})."


# ---------------------------------------------------------------- validation


def _validate_images(
    root: Path,
    paths: list[str],
    max_pixels: int,
    progress: ProgressCallback | None,
) -> tuple[dict[str, str], list[SkippedFile]]:
    """Decode every image once; return the sha256 of each valid file and the skipped ones."""
    digests: dict[str, str] = {}
    skipped: list[SkippedFile] = []
    total = len(paths)
    if progress:
        progress(0, total)

    def check(relative: str) -> tuple[str, str | None, SkippedFile | None]:
        try:
            data = (root / relative).read_bytes()
        except OSError as error:
            return relative, None, SkippedFile(relative, "unreadable", f"cannot read the file ({error.strerror})")
        stream = io.BytesIO(data)
        stream.name = relative
        try:
            decode_image(stream, max_pixels=max_pixels)
        except ImageDecodeError as error:
            return relative, None, SkippedFile(relative, error.code, error.reason)
        return relative, hashlib.sha256(data).hexdigest(), None

    with ThreadPoolExecutor(max_workers=_DECODE_THREADS) as pool:
        for done, (relative, digest, skip) in enumerate(pool.map(check, paths), start=1):
            if skip is None:
                digests[relative] = digest
            else:
                skipped.append(skip)
                logger.info("Skipped %s: %s", relative, skip.reason)
            if progress:
                progress(done, total)
    return digests, skipped


# ------------------------------------------------------------------ splitting


def _assign_splits(
    scan: _Scan,
    digests: dict[str, str],
    fractions: tuple[float, float, float],
    seed: int,
) -> tuple[dict[str, dict[str, list[str]]], list[Notice]]:
    """Return class -> split -> paths, and notices about carved or missing splits."""
    assignment: dict[str, dict[str, list[str]]] = {}
    carved: dict[str, int] = Counter()
    for class_name in sorted(scan.class_names()):
        by_split = scan.candidates[class_name]
        rng = random.Random(f"{seed}/{class_name}")
        if not scan.split_folders:
            targets = _split_targets(len(by_split[None]), fractions)
            assignment[class_name] = _allocate(by_split[None], digests, targets, rng)
            continue

        per_split = {split: sorted(by_split.get(split, [])) for split in SPLITS}
        for missing in (split for split in ("val", "test") if split not in scan.split_folders):
            index = SPLITS.index(missing)
            share = fractions[index] / (fractions[0] + fractions[index])
            count = _carve_count(len(per_split["train"]), share)
            allocated = _allocate(per_split["train"], digests, {missing: count}, rng)
            per_split["train"], per_split[missing] = allocated["train"], allocated[missing]
            carved[missing] += len(allocated[missing])
        assignment[class_name] = per_split

    notices = []
    for split, count in sorted(carved.items()):
        notices.append(
            Notice(
                "split_carved",
                f"No {split} folder was found, so {count} images were moved from train to {split}.",
                {"split": split, "count": count},
            )
        )
    notices.extend(_missing_split_notices(assignment, scan.split_folders))
    return assignment, notices


def _split_targets(count: int, fractions: tuple[float, float, float]) -> dict[str, int]:
    """Return val and test sizes for `count` images (train gets the rest)."""
    exact = [count * fraction for fraction in fractions]
    sizes = [int(value) for value in exact]
    # Largest remainder first; ties go to train, then val, then test.
    order = sorted(range(3), key=lambda index: (-(exact[index] - sizes[index]), index))
    for index in order[: count - sum(sizes)]:
        sizes[index] += 1

    if count >= 3:
        for index in (1, 2):
            if fractions[index] > 0 and sizes[index] == 0:
                sizes[index] = 1
                sizes[0] -= 1
        if sizes[0] < 1:
            larger = 1 if sizes[1] >= sizes[2] else 2
            sizes[larger] -= 1
            sizes[0] = 1
    elif count == 2 and sizes[0] != 1:
        # Two images: one to train on, one held out (test unless test is 0).
        held_out = 2 if fractions[2] > 0 else 1
        sizes = [1, 0, 0]
        sizes[held_out] = 1
    return {"val": sizes[1], "test": sizes[2]}


def _carve_count(train_count: int, share: float) -> int:
    if share <= 0 or train_count < 2:
        return 0
    return min(train_count - 1, max(1, round(train_count * share)))


def _allocate(paths: list[str], digests: dict[str, str], targets: dict[str, int], rng: random.Random) -> dict[str, list[str]]:
    """Shuffle groups of identical files and fill the target splits in order; the rest goes to train.

    Identical files stay together, so a duplicate never ends up on both
    sides of a train/test boundary.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for path in sorted(paths):
        groups[digests.get(path, path)].append(path)
    shuffled = list(groups.values())
    rng.shuffle(shuffled)

    result: dict[str, list[str]] = {split: [] for split in SPLITS}
    fill_order = [split for split in ("test", "val") if targets.get(split, 0) > 0]
    for group in shuffled:
        while fill_order and len(result[fill_order[0]]) >= targets[fill_order[0]]:
            fill_order.pop(0)
        result[fill_order[0] if fill_order else "train"].extend(group)
    return result


def _build_items(assignment: dict[str, dict[str, list[str]]], classes: list[str]) -> dict[str, list[tuple[str, int]]]:
    items: dict[str, list[tuple[str, int]]] = {split: [] for split in SPLITS}
    for label, class_name in enumerate(classes):
        for split in SPLITS:
            items[split].extend((path, label) for path in sorted(assignment[class_name][split]))
    return items


# ------------------------------------------------------------------- warnings


def _missing_split_notices(assignment: dict[str, dict[str, list[str]]], split_folders: set[str]) -> list[Notice]:
    notices = []
    for class_name, per_split in sorted(assignment.items()):
        missing = [split for split in SPLITS if not per_split[split] and (split == "train" or split in split_folders)]
        if missing:
            notices.append(
                Notice(
                    "missing_in_split",
                    f"Class {class_name!r} has no images in {', '.join(missing)}.",
                    {"class": class_name, "splits": missing},
                )
            )
    return notices


def _duplicate_notices(assignment: dict[str, dict[str, list[str]]], digests: dict[str, str]) -> list[Notice]:
    by_digest: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for class_name, per_split in assignment.items():
        for split, paths in per_split.items():
            for path in paths:
                by_digest[digests[path]].append((path, class_name, split))

    groups: dict[str, list[list[str]]] = defaultdict(list)
    for members in by_digest.values():
        if len(members) < 2:
            continue
        paths = sorted(path for path, _, _ in members)
        if len({class_name for _, class_name, _ in members}) > 1:
            groups["duplicate_across_classes"].append(paths)
        elif len({split for _, _, split in members}) > 1:
            groups["duplicate_across_splits"].append(paths)
        else:
            groups["duplicate_in_class"].append(paths)

    explanations = {
        "duplicate_in_class": "identical files within one class; the copies add no information",
        "duplicate_across_classes": "identical files in different classes (contradictory labels); "
        "keep each image in one class only",
        "duplicate_across_splits": "identical files in different splits (leakage: test accuracy "
        "will look better than it is); remove the copies from val or test",
    }
    notices = []
    for code, explanation in explanations.items():
        found = sorted(groups.get(code, []))
        if found:
            example = " = ".join(found[0])
            notices.append(
                Notice(
                    code,
                    f"{len(found)} group(s) of {explanation}. For example: {example}.",
                    {"count": len(found), "groups": found[:_MAX_EXAMPLES]},
                )
            )
    return notices


def _balance_notices(assignment: dict[str, dict[str, list[str]]], classes: list[str]) -> list[Notice]:
    totals = {name: sum(len(paths) for paths in assignment[name].values()) for name in classes}
    notices = []

    largest = max(classes, key=lambda name: totals[name])
    smallest = min(classes, key=lambda name: totals[name])
    ratio = totals[largest] / totals[smallest]
    if ratio >= IMBALANCE_RATIO:
        notices.append(
            Notice(
                "imbalance",
                f"Classes are imbalanced: {largest!r} has {totals[largest]} images and {smallest!r} has "
                f"{totals[smallest]} ({ratio:.1f} times fewer). Accuracy can look good while the small "
                "class is mostly misclassified; add images or use class weights.",
                {"max_class": largest, "max_count": totals[largest], "min_class": smallest,
                 "min_count": totals[smallest], "ratio": round(ratio, 2)},
            )
        )

    tiny = {name: totals[name] for name in classes if totals[name] < TINY_CLASS_IMAGES}
    if tiny:
        listed = ", ".join(f"{name} ({count})" for name, count in tiny.items())
        notices.append(
            Notice(
                "tiny_class",
                f"{len(tiny)} class(es) have fewer than {TINY_CLASS_IMAGES} images: {listed}. "
                "Results on them will be unreliable.",
                {"classes": tiny, "threshold": TINY_CLASS_IMAGES},
            )
        )
    return notices


def _loose_file_notices(skipped: list[SkippedFile]) -> list[Notice]:
    loose = [item.path for item in skipped if item.code == "loose_file"]
    if not loose:
        return []
    return [
        Notice(
            "loose_files",
            f"{len(loose)} image(s) lie outside any class folder and were skipped, for example {loose[0]}.",
            {"count": len(loose), "paths": loose[:_MAX_EXAMPLES]},
        )
    ]


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
        raise DatasetError(f"Dataset source not found: {source}. Check the path.")
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


def load_split(
    dataset: Dataset,
    split: str,
    image_size: int,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the images of one split resized to image_size x image_size, and their labels.

    Images are uint8 of shape (N, image_size, image_size, 3) and labels int32
    of shape (N,), in `dataset.items[split]` order. For a dataset with a
    folder, the arrays are cached as .npy files in its cache/ folder.

    NOTE: the whole split is held in memory: N * image_size**2 * 3 bytes.
    """
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {', '.join(SPLITS)}; received {split!r}")
    pairs = dataset.items.get(split, [])
    cache = _cache_paths(dataset, split, image_size, pairs)
    if cache is not None and cache[0].is_file() and cache[1].is_file():
        images, labels = np.load(cache[0]), np.load(cache[1])
        if len(images) == len(labels) == len(pairs):
            if progress:
                progress(len(pairs), len(pairs))
            return images, labels
        logger.warning("Ignoring cache %s: its length does not match the split", cache[0])

    images = _decode_split(dataset, pairs, image_size, progress)
    labels = np.asarray([label for _, label in pairs], dtype=np.int32)
    if cache is not None:
        cache[0].parent.mkdir(parents=True, exist_ok=True)
        _save_npy_atomic(cache[1], labels)
        _save_npy_atomic(cache[0], images)
    return images, labels


def _cache_paths(dataset: Dataset, split: str, image_size: int, pairs: list) -> tuple[Path, Path] | None:
    if dataset.folder is None:
        return None
    items_digest = hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:8]
    stem = dataset.folder / "cache" / f"{split}_{image_size}_{items_digest}"
    return stem.with_name(stem.name + "_images.npy"), stem.with_name(stem.name + "_labels.npy")


def _decode_split(dataset: Dataset, pairs: list[tuple[str, int]], image_size: int, progress: ProgressCallback | None) -> np.ndarray:
    images = np.empty((len(pairs), image_size, image_size, 3), dtype=np.uint8)
    if progress:
        progress(0, len(pairs))

    def load(index: int) -> int:
        path = pairs[index][0]
        try:
            images[index] = load_resized(dataset.root / path, image_size, max_pixels=dataset.max_pixels)
        except ImageDecodeError as error:
            raise DatasetError(
                f"Cannot load {path} from {dataset.root}: {error.reason}. The files changed after "
                "ingestion; open the dataset again."
            ) from error
        return index

    with ThreadPoolExecutor(max_workers=_DECODE_THREADS) as pool:
        for done, _ in enumerate(pool.map(load, range(len(pairs))), start=1):
            if progress:
                progress(done, len(pairs))
    return images


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with temporary.open("wb") as file:
        np.save(file, array)
    os.replace(temporary, path)


def _write_text_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
