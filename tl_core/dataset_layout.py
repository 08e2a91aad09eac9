"""Finding the classes and splits in a folder of images.

`scan_layout` steps into up to four wrapping folders, recognises train/val/test
split folders, and collects the candidate image paths of each class. It skips
system files, hidden entries, links and files that are not images, recording
each with a code (see tl_core.dataset_report.SKIP_CODES). It decodes nothing:
`tl_core.datasets.ingest` validates the candidates afterwards.
"""

from __future__ import annotations

import os
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tl_core.archive import is_archive_name
from tl_core.dataset_report import Notice, SkippedFile
from tl_core.errors import DatasetError
from tl_core.images import HEIC_UNSUPPORTED_REASON, HEIF_EXTENSIONS, IMAGE_EXTENSIONS, is_image_name

MIN_CLASSES = 2
MIN_IMAGES_PER_CLASS = 2

_SPLIT_FOLDER_NAMES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}
_MAX_WRAPPER_DEPTH = 4
_SYSTEM_FILE_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
# Image types that IMAGE_EXTENSIONS lacks, named in the reason for skipping
# them. HEIC and HEIF (when pillow-heif is missing) get HEIC_UNSUPPORTED_REASON.
_KNOWN_UNSUPPORTED_IMAGES = {
    ".avif": "AVIF",
    ".svg": "SVG",
    ".psd": "Photoshop",
    ".dng": "raw camera",
    ".cr2": "raw camera",
    ".nef": "raw camera",
    ".arw": "raw camera",
}


@dataclass
class LayoutScan:
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


def scan_layout(root: Path) -> LayoutScan:
    """Find the class folders (and split folders, if any) under `root` and their candidate images."""
    scan = LayoutScan(root)
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


def _step_into_wrappers(root: Path, scan: LayoutScan) -> tuple[list[Path], list[Path]]:
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


def _scan_classes(folders_by_split: dict[str | None, list[Path]], root: Path, scan: LayoutScan) -> None:
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


def list_visible_files(root: Path) -> list[Path]:
    """Return every file under `root` that is not hidden, system metadata or a link to a folder."""
    folders, files = _list_visible(root, root, [])
    for folder in folders:
        files.extend(list_visible_files(folder))
    return files


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
            skipped.append(_skip_non_image(path, root))
    for sub_folder in folders:
        paths.extend(_collect_images(sub_folder, root, skipped))
    return paths


def _skip_loose_files(files: Iterable[Path], root: Path, scan: LayoutScan) -> None:
    for path in files:
        relative = _relative(path, root)
        if is_image_name(path.name):
            scan.skipped.append(
                SkippedFile(relative, "loose_file", "image outside any class folder; move it into its class folder")
            )
        else:
            scan.skipped.append(_skip_non_image(path, root))


def _skip_non_image(path: Path, root: Path) -> SkippedFile:
    relative = _relative(path, root)
    if is_archive_name(path.name):
        return SkippedFile(
            relative,
            "nested_archive",
            "archive inside the archive; archives are not extracted recursively, so extract it "
            "and put its class folders into the main archive",
        )
    return SkippedFile(relative, "unsupported_type", _unsupported_type_reason(path))


def _unsupported_type_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in HEIF_EXTENSIONS:
        return HEIC_UNSUPPORTED_REASON
    if suffix in _KNOWN_UNSUPPORTED_IMAGES:
        return f"{_KNOWN_UNSUPPORTED_IMAGES[suffix]} images are not supported; convert them to JPEG or PNG"
    extension_text = f"'{suffix}'" if suffix else "a file without extension"
    return f"{extension_text} is not an image type; supported: {', '.join(sorted(IMAGE_EXTENSIONS))}"


def _count_files(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder))


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def check_candidate_counts(scan: LayoutScan, source_name: str, skipped: list[SkippedFile]) -> None:
    """Raise DatasetError when fewer than MIN_CLASSES classes or MIN_IMAGES_PER_CLASS images remain."""
    names = sorted(name for name in scan.class_names() if scan.class_total(name) > 0)
    if len(names) < MIN_CLASSES:
        found = f"{len(names)} class ({names[0]!r})" if names else "no class folder with images"
        loose = sum(1 for item in skipped if item.code == "loose_file")
        hint = f" {loose} image(s) lie outside any class folder." if loose else ""
        raise DatasetError(
            f"Found {found} in {source_name}, but training needs at least {MIN_CLASSES} classes.{hint} "
            "Put each class's images in its own folder (for example cats/001.jpg and dogs/001.jpg) "
            "and zip those folders together.",
            "too_few_classes",
            {"name": source_name, "classes": names, "min_classes": MIN_CLASSES, "loose_files": loose},
        )

    for name in names:
        count = scan.class_total(name)
        if count < MIN_IMAGES_PER_CLASS:
            raise DatasetError(
                f"Class {name!r} has {count} usable image, but each class needs at least "
                f"{MIN_IMAGES_PER_CLASS} (to train on and to test with).{_class_skip_summary(name, skipped)} "
                f"Add images to {name!r} or remove that folder.",
                "too_few_images",
                {"class": name, "count": count, "min_images": MIN_IMAGES_PER_CLASS},
            )


def _class_skip_summary(class_name: str, skipped: list[SkippedFile]) -> str:
    own = [item for item in skipped if class_name in item.path.split("/")]
    if not own:
        return ""
    examples = "; ".join(f"{item.path}: {item.reason}" for item in own[:3])
    return f" {len(own)} of its files were skipped ({examples})."

