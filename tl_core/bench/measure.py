"""The benchmark's measurements: throughput, timed runs, memory and the app's cold start.

Throughputs are the best of several interleaved trials, because other
processes on a shared machine slow single trials down unevenly. Timed runs
record wall time and this process's CPU time (all threads), so a reader can
tell a slow run from a contended one.
"""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]


def current_rss_mb() -> float:
    """Return this process's resident set size now, in MB of 10**6 bytes (Linux /proc)."""
    with open("/proc/self/statm") as file:
        resident_pages = int(file.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """Return this process's peak resident set size so far, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


class Timer:
    """Wall time and process CPU time of a `with` block, in seconds."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def measure_throughput(dataset, backbone: str, image_size: int, seed: int, trials: int = 5) -> dict:
    """Return images/s of the raw backbone forward pass and of feature extraction.

    Feature extraction: `features.extract_feature_sets` from the uint8
    images of all three splits to pooled features, in one pass, as a frozen
    run calls it. Raw forward: the backbone alone in a tf.function on one
    in-memory float batch of the extraction batch size, run as many times
    as extraction needs batches. Both are traced before timing, and each takes
    the best of `trials` trials, alternating. XLA is left out, as Keras
    leaves it out on machines without a GPU: MobileNet at 128 px ran at 13
    images/s with XLA and over 200 without on the 2-core AMD EPYC of
    BENCHMARKS.md (a tf.function loop with jit_compile=True against one without).
    """
    import tensorflow as tf

    from tl_core import features
    from tl_core.datasets import load_split
    from tl_core.model import build_classifier

    image_sets = [load_split(dataset, split, image_size)[0] for split in ("train", "val", "test")]
    total = sum(len(images) for images in image_sets)
    model = build_classifier(backbone, len(dataset.classes), image_size, "frozen", seed=seed)
    backbone_model = model.get_layer("backbone")
    extractor = features.feature_extractor(model)

    batch_size = features.feature_batch_size(image_size, image_size)
    batches = -(-total // batch_size)
    rng = np.random.default_rng(seed)
    inputs = tf.constant(rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype(np.float32))
    forward = tf.function(lambda x: backbone_model(x, training=False))

    def run_forward():
        for _ in range(batches):
            forward(inputs).numpy()

    def run_extraction():
        features.extract_feature_sets(extractor, image_sets)

    forward(inputs).numpy()
    features.extract_feature_sets(extractor, [image_sets[0][:batch_size]])  # traces the extractor
    # Raw forward counts every image it computes; extraction counts only real
    # images, so the padding of its last batch counts against it.
    best = {"forward": 0.0, "extraction": 0.0}
    for _ in range(trials):
        for name, run, count in (("forward", run_forward, batches * batch_size), ("extraction", run_extraction, total)):
            with Timer() as timer:
                run()
            best[name] = max(best[name], count / timer.wall)
    return {
        "forward_images_per_second": best["forward"],
        "extraction_images_per_second": best["extraction"],
        "images": total,
        "batch_size": batch_size,
        "trials": trials,
    }


def time_run(config, dataset, folder: Path) -> dict:
    """Run `training.train`; return its wall and CPU time with the summary fields the report uses.

    training_seconds runs from the call to the last epoch event, which is
    the scope of the tutorial's timing. seconds also covers scoring the test
    split, writing the run folder with model.keras, and releasing memory.
    """
    from tl_core.runs import read_events
    from tl_core.training import train

    started = time.time()
    with Timer() as timer:
        summary = train(config, dataset, folder)
    events, _ = read_events(folder)
    epoch_times = [event["time"] for event in events if event["type"] == "epoch"]
    return {
        "seconds": timer.wall,
        "cpu_seconds": timer.cpu,
        "training_seconds": epoch_times[-1] - started if epoch_times else None,
        "test_accuracy": summary["test_accuracy"],
        "feature_seconds": summary["feature_seconds"],
        "epochs": summary["epochs_completed"],
    }


def time_tutorial(folder: Path, backbone: str, image_size: int, epochs: int, batch_size: int, seed: int) -> dict:
    """Time the Keras tutorial pipeline: image_dataset_from_directory, then fit of the full model.

    It trains on 70% of the images, like our run, and validates on the
    other 30% (our validation and test shares together), so every epoch
    runs the backbone over every image once. The model is ours (same
    preprocessing, backbone, weights and head), built inside the timing as
    the tutorial builds its own.
    """
    import keras

    from tl_core.model import build_classifier, compile_model

    with Timer() as timer:
        train_data, val_data = keras.utils.image_dataset_from_directory(
            folder, validation_split=0.3, subset="both", seed=seed,
            image_size=(image_size, image_size), batch_size=batch_size, verbose=False,
        )
        model = build_classifier(backbone, len(train_data.class_names), image_size, "frozen", seed=seed)
        compile_model(model, "adam", 1e-3)
        history = model.fit(train_data, validation_data=val_data, epochs=epochs, verbose=0)
    del model
    keras.backend.clear_session()
    return {
        "seconds": timer.wall,
        "cpu_seconds": timer.cpu,
        "val_accuracy": float(history.history["val_accuracy"][-1]),
        "epochs": epochs,
    }


def finetune_speed(run_folder: Path) -> float:
    """Return the mean training images/s of a run's epochs after the first, from its metrics.csv.

    The first epoch is left out because it includes tracing the training step.
    """
    from tl_core.runs import read_metrics

    speeds = [row["images_per_second"] for row in read_metrics(run_folder)[1:] if row.get("images_per_second")]
    return float(np.mean(speeds)) if speeds else float("nan")


# --------------------------------------------------------- fresh processes


def measure_memory(request: dict) -> dict:
    """Run `memory_child(request)` in a fresh Python process and return what it reports.

    A fresh process, so that the peak RSS is that of the training runs and
    not of the benchmark's earlier steps.
    """
    return run_child([sys.executable, "-m", "tl_core.bench", "memory", json.dumps(request)], env={})


def memory_child(request: dict) -> dict:
    """Train `runs` frozen runs in this process; return peak RSS after the first and RSS after each.

    request: folder (class-folder images), data_root, backbone, image_size,
    runs, epochs, batch_size, seed, and reuse_features (False deletes the
    stored features before each run, so that every run extracts them again).
    """
    from tl_core import fitting
    from tl_core.dataset_arrays import CACHE_FOLDER
    from tl_core.datasets import open_dataset
    from tl_core.training import TrainConfig

    fitting.configure_threads()
    data_root = Path(request["data_root"])
    dataset = open_dataset(Path(request["folder"]), data_root=data_root)
    config = TrainConfig(
        backbone=request["backbone"], mode="frozen", image_size=request["image_size"],
        epochs=request["epochs"], batch_size=request["batch_size"], seed=request["seed"],
    )
    rss_before = current_rss_mb()
    rss_after, seconds, peak_first = [], [], None
    for index in range(request["runs"]):
        if not request["reuse_features"]:
            for path in (Path(dataset.folder) / CACHE_FOLDER).glob("features_*.npy"):
                path.unlink()
        run = time_run(config, dataset, data_root / "runs" / f"memory-{index + 1}")
        seconds.append(run["seconds"])
        rss_after.append(current_rss_mb())
        if peak_first is None:
            peak_first = peak_rss_mb()
    return {
        "images": sum(dataset.counts().values()),
        "image_size": request["image_size"],
        "epochs": request["epochs"],
        "peak_rss_mb": peak_first,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "growth_mb": rss_after[-1] - rss_after[0],
        "run_seconds": seconds,
    }


def measure_thread_settings(backbone: str, image_size: int, cores: int, trials: int = 3) -> list[dict]:
    """Return raw forward images/s for several TensorFlow thread settings, each in a fresh process.

    Thread pools are fixed once TensorFlow starts, so every setting needs
    its own process. The settings are one thread, then intra-op threads
    equal to the usable cores with 1 and with 2 inter-op threads (training
    uses the second). The last is twice the cores, as TensorFlow would
    choose where a container quota allows half of the machine's cores.
    """
    settings = [(1, 1), (cores, 1), (cores, 2), (2 * cores, 2)]
    results = []
    for intra, inter in dict.fromkeys(settings):
        request = {"backbone": backbone, "image_size": image_size, "intra": intra, "inter": inter, "trials": trials}
        results.append(run_child([sys.executable, "-m", "tl_core.bench", "threads", json.dumps(request)], env={}))
    return results


def threads_child(request: dict) -> dict:
    """Set the requested thread pools, then return the backbone's best forward images/s and CPU use."""
    import tensorflow as tf

    from tl_core.backbones import build_backbone
    from tl_core.features import feature_batch_size

    tf.config.threading.set_intra_op_parallelism_threads(request["intra"])
    tf.config.threading.set_inter_op_parallelism_threads(request["inter"])
    size = request["image_size"]
    batch_size = feature_batch_size(size, size)
    backbone = build_backbone(request["backbone"], size, pretrained=True)
    inputs = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch_size, size, size, 3)).astype(np.float32))
    forward = tf.function(lambda x: backbone(x, training=False))
    forward(inputs).numpy()
    batches = max(1, 256 // batch_size)
    best_speed, best_cores = 0.0, 0.0
    for _ in range(request["trials"]):
        with Timer() as timer:
            for _ in range(batches):
                forward(inputs).numpy()
        if batches * batch_size / timer.wall > best_speed:
            best_speed, best_cores = batches * batch_size / timer.wall, timer.cpu / timer.wall
    return {"intra": request["intra"], "inter": request["inter"], "images_per_second": best_speed, "cores_busy": best_cores}


COLD_START_SCRIPT = """
import json, sys, time
started = time.perf_counter()
from streamlit.testing.v1 import AppTest
imported = time.perf_counter()
app = AppTest.from_file(sys.argv[1], default_timeout=60)
app.run()
finished = time.perf_counter()
print(json.dumps({
    "streamlit_import_seconds": imported - started,
    "script_run_seconds": finished - imported,
    "tensorflow_imported": "tensorflow" in sys.modules,
    "keras_imported": "keras" in sys.modules,
    "exceptions": [str(item.value) for item in app.exception],
}))
"""


def measure_cold_start(app: Path, data_root: Path) -> dict:
    """Run `app` once with Streamlit's AppTest in a fresh process, against an empty data root.

    script_run_seconds covers AppTest.from_file and run(), the server-side
    script run; the Streamlit import and the interpreter start are reported
    apart. Returns {"measured": False, "reason": ...} when the app is missing
    or raised.
    """
    if not app.is_file():
        return {"measured": False, "reason": f"{app} not found"}
    with Timer() as timer:
        try:
            result = run_child(
                [sys.executable, "-c", COLD_START_SCRIPT, str(app)],
                env={"TL_DATA_DIR": str(data_root)}, cwd=app.parent,
            )
        except RuntimeError as error:
            return {"measured": False, "reason": str(error)}
    result["process_seconds"] = timer.wall
    result["measured"] = not result["exceptions"]
    if result["exceptions"]:
        result["reason"] = "app.py raised: " + "; ".join(result["exceptions"])
    return result


def run_child(command: list[str], env: dict, cwd: Path = REPO_ROOT) -> dict:
    """Run `command` and parse the JSON object on the last line of its standard output.

    Raises RuntimeError with the end of its standard error when it fails.
    """
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    pythonpath = [str(REPO_ROOT), environment.get("PYTHONPATH", "")]
    environment["PYTHONPATH"] = os.pathsep.join(part for part in pythonpath if part)
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd)
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        tail = " | ".join(completed.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{' '.join(command[:3])} failed with exit code {completed.returncode}: {tail}")
    return json.loads(lines[-1])
