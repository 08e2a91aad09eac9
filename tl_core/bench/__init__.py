"""Benchmark: our frozen training against the Keras tutorial pipeline, plus memory and start-up.

    python -m tl_core bench [--backbone mobilenet] [--image-size 128] [--images 500]
                            [--epochs 10 30] [--output BENCHMARKS.md]

The steps (names for --steps), all but the last two in one process, on the
same generated images, backbone and image size:

    throughput  (1) raw backbone forward images/s on in-memory tensors, and
                (5) images/s of feature extraction, as training runs it.
    frozen      (2) wall time of `training.train` in frozen mode (cached
                features) per entry of `epochs`, each on a fresh data root so
                that nothing is cached yet, and once more with warm caches.
    tutorial    (3) wall time of `keras.utils.image_dataset_from_directory`
                plus `fit` of the full model on the same folder, per entry of
                `epochs`, each right after our run of the same length.
    finetune    (4) training images/s of fine-tune mode, epochs after the first.
    accuracy    (8) test accuracy of frozen training with and without cached
                features.
    memory      (6) in a fresh process: peak RSS of a frozen run on a larger
                dataset, and RSS after each of several consecutive runs.
    threads     raw forward images/s under several TensorFlow thread
                settings, one fresh process each.
    cold_start  (7) in a fresh process: Streamlit AppTest script run of app.py,
                and whether TensorFlow got imported.

Before any timing, one untimed frozen run fills the warm caches and loads
the libraries' lazy parts, so that neither side pays that start-up alone.
"""

import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from tl_core.bench.data import generate_images
from tl_core.bench.measure import (
    finetune_speed, measure_cold_start, measure_memory, measure_thread_settings, measure_throughput, time_run,
    time_tutorial,
)
from tl_core.bench.report import BenchResults, format_results, machine_info, write_json, write_report
from tl_core.errors import ConfigError

__all__ = [
    "BenchResults", "BenchSettings", "DEFAULT_SAMPLE", "STEPS", "format_results", "run_benchmark",
    "write_json", "write_report",
]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SAMPLE = REPO_ROOT / "assets" / "samples" / "fashion_mnist_5.zip"
DEFAULT_APP = REPO_ROOT / "app.py"
STEPS = ("throughput", "frozen", "tutorial", "finetune", "accuracy", "memory", "threads", "cold_start")
IN_PROCESS_STEPS = ("throughput", "frozen", "tutorial", "finetune", "accuracy")


@dataclass
class BenchSettings:
    """Settings of one benchmark run; the defaults give the published table."""

    backbone: str = "mobilenet"
    image_size: int = 128
    images: int = 500
    epochs: tuple[int, ...] = (10, 30)
    batch_size: int = 32
    seed: int = 0
    repeats: int = 3  # timed runs per epoch count and side; the report uses the fastest
    finetune_epochs: int = 3
    memory_images: int = 2000
    memory_image_size: int = 224
    memory_runs: int = 5
    memory_epochs: int = 3
    memory_reuse_features: bool = False  # False: every memory run extracts features again
    steps: tuple[str, ...] = STEPS
    sample: Path = DEFAULT_SAMPLE
    app: Path = DEFAULT_APP
    workdir: Path | None = None  # None: a temporary folder, removed afterwards

    def validate(self) -> None:
        """Raise ConfigError naming the first invalid setting."""
        unknown = [step for step in self.steps if step not in STEPS]
        if unknown:
            raise ConfigError(f"Unknown benchmark step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}.")
        if self.images < 10 or self.memory_images < 10:
            raise ConfigError(
                "Image counts (--images, --memory-images) must be at least 10; "
                f"received {self.images} and {self.memory_images}."
            )
        if not self.epochs or min(self.epochs) < 1:
            raise ConfigError(f"Epoch counts must be at least 1; received {list(self.epochs)}.")
        if self.finetune_epochs < 2:
            raise ConfigError(
                "Fine-tune speed is measured after the first epoch, so it needs at least 2 epochs; "
                f"received {self.finetune_epochs}."
            )
        if self.repeats < 1:
            raise ConfigError(f"Repeats must be at least 1; received {self.repeats}.")
        if self.memory_runs < 1:
            raise ConfigError(f"Memory runs must be at least 1; received {self.memory_runs}.")
        if not Path(self.sample).is_file():
            raise ConfigError(f"Sample dataset not found: {self.sample}. Pass the path of a class-folder zip.")


def run_benchmark(settings: BenchSettings) -> BenchResults:
    """Run the selected steps and return their measurements."""
    settings.validate()
    workdir = Path(settings.workdir or tempfile.mkdtemp(prefix="tl-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stored_settings = asdict(settings)
    stored_settings.update(sample=str(settings.sample), app=str(settings.app), workdir=None)
    results = BenchResults(
        settings=stored_settings,
        machine=machine_info(),
        started_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    try:
        # The cold start goes first: it is the shortest step and most sensitive to load.
        if "cold_start" in settings.steps:
            log.info("Cold start of %s", settings.app)
            results.steps["cold_start"] = measure_cold_start(settings.app, workdir / "app-data")
        if set(IN_PROCESS_STEPS) & set(settings.steps):
            _run_in_process(settings, workdir, results.steps)
        if "memory" in settings.steps:
            results.steps["memory"] = _run_memory(settings, workdir)
        if "threads" in settings.steps:
            from tl_core.fitting import usable_cores

            log.info("Thread settings: raw forward throughput, one fresh process per setting")
            results.steps["thread_settings"] = measure_thread_settings(
                settings.backbone, settings.image_size, usable_cores()
            )
    finally:
        if settings.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def _run_in_process(settings: BenchSettings, workdir: Path, steps: dict) -> None:
    from tl_core import fitting
    from tl_core.datasets import open_dataset

    # Every run builds new models on purpose, which TensorFlow would log as "retracing".
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    steps["threads"] = {"intra_op": fitting.configure_threads(), "usable_cores": fitting.usable_cores()}
    log.info("Generating %d images of %d px", settings.images, settings.image_size)
    folder = generate_images(settings.sample, workdir / "images", settings.images, settings.image_size, settings.seed)

    warm = open_dataset(folder, data_root=workdir / "root-warm")
    log.info("Untimed frozen run to fill the caches")
    time_run(_config(settings), warm, workdir / "runs" / "warm-up")

    if "throughput" in settings.steps:
        log.info("Raw forward and feature extraction throughput")
        steps["throughput"] = measure_throughput(warm, settings.backbone, settings.image_size, settings.seed)
        fitting.release_memory()

    frozen, tutorial = _time_pairs(settings, folder, workdir)
    if "frozen" in settings.steps:
        log.info("Our frozen training, %d epochs, warm caches", settings.epochs[0])
        frozen["warm"] = [
            time_run(_config(settings), warm, workdir / "runs" / f"frozen-warm-{repeat}")
            for repeat in range(settings.repeats)
        ]
        steps["frozen"] = frozen
    if tutorial:
        steps["tutorial"] = tutorial

    if "finetune" in settings.steps:
        log.info("Fine-tune mode, %d epochs", settings.finetune_epochs)
        run_folder = workdir / "runs" / "finetune"
        run = time_run(_config(settings, mode="finetune", epochs=settings.finetune_epochs), warm, run_folder)
        steps["finetune"] = {**run, "images_per_second": finetune_speed(run_folder)}

    if "accuracy" in settings.steps:
        log.info("Frozen training without cached features, %d epochs", settings.epochs[0])
        uncached = time_run(_config(settings, feature_cache=False), warm, workdir / "runs" / "uncached")
        steps["accuracy"] = {
            "epochs": settings.epochs[0],
            "cached": frozen["cold"][str(settings.epochs[0])][0]["test_accuracy"],
            "uncached": uncached["test_accuracy"],
            "uncached_seconds": uncached["seconds"],
            "test_images": warm.counts()["test"],
        }


def _config(settings: BenchSettings, **changes):
    """Return the TrainConfig of the benchmark's runs: frozen, first epoch count, with `changes`."""
    from tl_core.training import TrainConfig

    values = {
        "backbone": settings.backbone, "mode": "frozen", "image_size": settings.image_size,
        "batch_size": settings.batch_size, "seed": settings.seed, "epochs": settings.epochs[0],
    }
    return TrainConfig(**{**values, **changes})


def _time_pairs(settings: BenchSettings, folder: Path, workdir: Path) -> tuple[dict, dict]:
    """Time our cold frozen runs and the tutorial for each epoch count; return (frozen, tutorial).

    Each repeat times our run, then the tutorial, back to back, so that both
    sides of a pair see about the same load from other processes.
    """
    from tl_core.datasets import open_dataset

    frozen, tutorial = {"cold": {}}, {}
    for epochs in settings.epochs:
        for repeat in range(settings.repeats):
            progress = f"{epochs} epochs ({repeat + 1}/{settings.repeats})"
            if "frozen" in settings.steps or "accuracy" in settings.steps:
                log.info("Our frozen training, nothing cached, %s", progress)
                # A data root of its own, so that neither images nor features are cached yet.
                cold = open_dataset(folder, data_root=workdir / f"root-frozen-{epochs}-{repeat}")
                run = time_run(_config(settings, epochs=epochs), cold, workdir / "runs" / f"frozen-{epochs}-{repeat}")
                frozen["cold"].setdefault(str(epochs), []).append(run)
            if "tutorial" in settings.steps:
                log.info("Keras tutorial pipeline, %s", progress)
                run = time_tutorial(
                    folder, settings.backbone, settings.image_size, epochs, settings.batch_size, settings.seed
                )
                tutorial.setdefault(str(epochs), []).append(run)
    return frozen, tutorial


def _run_memory(settings: BenchSettings, workdir: Path) -> dict:
    log.info("Memory: generating %d images of %d px", settings.memory_images, settings.memory_image_size)
    folder = generate_images(
        settings.sample, workdir / "memory-images", settings.memory_images, settings.memory_image_size, settings.seed
    )
    log.info("Memory: %d frozen runs in a fresh process", settings.memory_runs)
    return measure_memory(
        {
            "folder": str(folder), "data_root": str(workdir / "root-memory"), "backbone": settings.backbone,
            "image_size": settings.memory_image_size, "runs": settings.memory_runs,
            "epochs": settings.memory_epochs, "batch_size": settings.batch_size, "seed": settings.seed,
            "reuse_features": settings.memory_reuse_features,
        }
    )
