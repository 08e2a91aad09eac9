"""Warnings about a dataset that can still be trained on: duplicates, imbalance, odd images."""

from __future__ import annotations

from collections import defaultdict

from tl_core.dataset_report import Notice, SkippedFile

TINY_CLASS_IMAGES = 10
IMBALANCE_RATIO = 3.0
# Images with a side under this many pixels carry almost no information once
# they are scaled up to a backbone's input size (64 to 224 pixels in tl_core.backbones).
SMALL_IMAGE_SIDE = 8
# Images are squashed to a square without keeping the aspect ratio, so one
# longer than this many times its width (or the reverse) is distorted badly.
EXTREME_ASPECT_RATIO = 10.0

_MAX_EXAMPLES = 20


def duplicate_notices(assignment: dict[str, dict[str, list[str]]], digests: dict[str, str]) -> list[Notice]:
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


def balance_notices(assignment: dict[str, dict[str, list[str]]], classes: list[str]) -> list[Notice]:
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


def loose_file_notices(skipped: list[SkippedFile]) -> list[Notice]:
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



def image_shape_notices(sizes: dict[str, tuple[int, int]]) -> list[Notice]:
    """Warn about tiny images and images with an extreme aspect ratio; `sizes` maps path to (width, height)."""
    small = sorted(path for path, (width, height) in sizes.items() if min(width, height) < SMALL_IMAGE_SIDE)
    stretched = sorted(
        path
        for path, (width, height) in sizes.items()
        if max(width, height) / max(min(width, height), 1) > EXTREME_ASPECT_RATIO
    )

    notices = []
    if small:
        notices.append(
            Notice(
                "small_images",
                f"{len(small)} image(s) are smaller than {SMALL_IMAGE_SIDE} pixels on a side, for example "
                f"{small[0]}. They are scaled up and carry little information; check that they belong.",
                {"count": len(small), "paths": small[:_MAX_EXAMPLES], "min_side": SMALL_IMAGE_SIDE},
            )
        )
    if stretched:
        notices.append(
            Notice(
                "extreme_aspect_ratio",
                f"{len(stretched)} image(s) are more than {EXTREME_ASPECT_RATIO:g} times longer than wide "
                f"(or wider than long), for example {stretched[0]}. Training squashes every image to a "
                "square, which distorts them; crop them if the object is small.",
                {"count": len(stretched), "paths": stretched[:_MAX_EXAMPLES], "max_ratio": EXTREME_ASPECT_RATIO},
            )
        )
    return notices
