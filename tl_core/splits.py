"""Assigning each image of a dataset to the train, val or test split.

Each class is split on its own with a seeded random generator, and
identical files (same sha256) always land in the same split, so a copy never
sits on both sides of a train/test boundary.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence

from tl_core.dataset_layout import LayoutScan
from tl_core.dataset_report import SPLITS, Notice
from tl_core.errors import DatasetError

DEFAULT_SPLIT = (0.7, 0.15, 0.15)


def check_split_fractions(split: Sequence[float]) -> tuple[float, float, float]:
    """Return `split` as three floats, or raise DatasetError when they are not valid fractions."""
    values = tuple(float(value) for value in split)
    if len(values) != 3 or any(value < 0 for value in values) or values[0] <= 0 or abs(sum(values) - 1) > 1e-6:
        raise DatasetError(
            "split must be three fractions (train, val, test) that are >= 0, with train > 0, "
            f"summing to 1, for example (0.7, 0.15, 0.15); received {tuple(split)!r}",
            "invalid_split",
            {"split": list(split)},
        )
    return values


def assign_splits(
    scan: LayoutScan,
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


def build_items(assignment: dict[str, dict[str, list[str]]], classes: list[str]) -> dict[str, list[tuple[str, int]]]:
    items: dict[str, list[tuple[str, int]]] = {split: [] for split in SPLITS}
    for label, class_name in enumerate(classes):
        for split in SPLITS:
            items[split].extend((path, label) for path in sorted(assignment[class_name][split]))
    return items



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


