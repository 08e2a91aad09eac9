"""The ingestion report: classes, counts, skipped files and notices, and their codes.

Every skipped file and every notice carries a stable `code`. The UI
translates them by code (`skip.<code>` and `code.<code>`), so a code never
changes once released; SKIP_CODES and NOTICE_CODES list them all with an
English description.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tl_core.archive import ENTRY_SKIP_CODES
from tl_core.images import DECODE_ERROR_CODES

SPLITS = ("train", "val", "test")

# Codes of SkippedFile: archive entries, folder layout, then image decoding.
SKIP_CODES = {
    **ENTRY_SKIP_CODES,
    "system_file": "operating system metadata (__MACOSX, ._ files, .DS_Store, Thumbs.db, desktop.ini)",
    "hidden": "hidden file or folder (name starts with '.')",
    "unsupported_type": "file type that is not an image",
    "nested_archive": "archive inside the archive, which is not extracted",
    "loose_file": "image outside any class folder",
    "extra_folder": "folder next to the train/val/test folders",
    "unreadable": "file that cannot be read",
    **DECODE_ERROR_CODES,
}

# Codes of Notice, with the keys of their params.
NOTICE_CODES = {
    "empty_class": "class folders without usable images were ignored; params: classes",
    "nested_archive_opened": "the upload held only one archive, which was extracted instead; params: path",
    "split_carved": "a missing val or test split was carved from train; params: split, count",
    "missing_in_split": "a class has no images in a split; params: class, splits",
    "duplicate_in_class": "identical files within one class; params: count, groups",
    "duplicate_across_classes": "identical files in different classes; params: count, groups",
    "duplicate_across_splits": "identical files in different splits (leakage); params: count, groups",
    "imbalance": "the largest class has many times the images of the smallest; "
    "params: max_class, max_count, min_class, min_count, ratio",
    "tiny_class": "classes with very few images; params: classes (name: count), threshold",
    "loose_files": "images outside any class folder were skipped; params: count, paths",
    "small_images": "images smaller than a few pixels on a side; params: count, paths, min_side",
    "extreme_aspect_ratio": "very long or very tall images that get squashed; params: count, paths, max_ratio",
}


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

