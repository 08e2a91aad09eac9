"""The benchmark's results table, checked against the targets, and its place in BENCHMARKS.md."""

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_START = "<!-- bench:results:start -->"
RESULTS_END = "<!-- bench:results:end -->"

TARGET_SPEEDUP = 8.0  # tutorial wall time / our frozen wall time, 10 epochs
TARGET_EXTRACTION_SHARE = 0.85  # feature extraction images/s / raw forward images/s
TARGET_PEAK_RSS_MB = 3000  # MB of 10**6 bytes, as measure.py reports RSS
TARGET_RSS_GROWTH_MB = 200
TARGET_COLD_START_SECONDS = 1.5
TARGET_ACCURACY_POINTS = 1.0


@dataclass
class BenchResults:
    """Measurements by step name; a step that was not run has no entry."""

    settings: dict
    machine: dict
    started_at: str
    steps: dict = field(default_factory=dict)


def machine_info() -> dict:
    """Return the CPU model (from /proc/cpuinfo), core count, memory and 1-minute load."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            model = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model,
        "nproc": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def library_versions() -> dict:
    """Return the installed TensorFlow, Keras and Streamlit versions, read without importing them."""
    from importlib import metadata

    versions = {}
    for label, packages in (
        ("tensorflow", ("tensorflow", "tensorflow-cpu")), ("keras", ("keras",)), ("streamlit", ("streamlit",)),
    ):
        for package in packages:
            try:
                versions[label] = metadata.version(package)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def result_rows(results: BenchResults) -> list[tuple[str, str, str, str]]:
    """Return (step, measurement, result, target) rows for the steps that ran."""
    steps = results.steps
    throughput = steps.get("throughput", {})
    forward = throughput.get("forward_images_per_second")
    rows = []
    if forward:
        rows.append((
            "1", f"Raw backbone forward, batch {throughput['batch_size']}, in-memory tensors, "
            f"best of {throughput['trials']}", f"{forward:.1f} images/s", "",
        ))
    rows += _speed_rows(steps.get("frozen", {}), steps.get("tutorial", {}))

    if "finetune" in steps:
        speed = steps["finetune"]["images_per_second"]
        share = f" = {speed / forward:.0%} of (1)" if forward else ""
        rows.append(("4", "Fine-tune mode training speed, epochs 2+", f"{speed:.1f} images/s{share}", "reported"))
    extraction = throughput.get("extraction_images_per_second")
    if extraction:
        share = extraction / forward
        rows.append((
            "5", f"Feature extraction from uint8 images, best of {throughput['trials']}",
            f"{extraction:.1f} images/s = {share:.0%} of (1)",
            f"≥ {TARGET_EXTRACTION_SHARE:.0%}: {_verdict(share >= TARGET_EXTRACTION_SHARE)}",
        ))
    rows += _memory_rows(steps.get("memory"))
    for item in steps.get("thread_settings", []):
        rows.append((
            "threads", f"Raw forward with {item['intra']} intra-op and {item['inter']} inter-op threads, fresh process",
            f"{item['images_per_second']:.1f} images/s, {item['cores_busy']:.2f} cores busy", "",
        ))
    rows += _cold_start_rows(steps.get("cold_start"))

    if "accuracy" in steps:
        item = steps["accuracy"]
        points = abs(item["cached"] - item["uncached"]) * 100
        rows.append((
            "8", f"Test accuracy, frozen, {item['epochs']} epochs, cached vs uncached ({item['test_images']} test images)",
            f"{item['cached']:.1%} vs {item['uncached']:.1%} ({points:.1f} points); uncached run {item['uncached_seconds']:.1f} s",
            f"≤ {TARGET_ACCURACY_POINTS:g} point: {_verdict(points <= TARGET_ACCURACY_POINTS)}",
        ))
    return rows


def _speed_rows(frozen: dict, tutorial: dict) -> list[tuple[str, str, str, str]]:
    """Rows of steps 2 and 3: the fastest of each side's repeats, and their ratios."""
    rows = []
    for epochs, runs in frozen.get("cold", {}).items():
        rows.append(("2", f"Our frozen training, {epochs} epochs, nothing cached", _ours(runs), ""))
    if "warm" in frozen:
        runs = frozen["warm"]
        rows.append(("2", f"Our frozen training, {runs[0]['epochs']} epochs, images and features cached", _ours(runs), ""))
    for epochs, runs in tutorial.items():
        rows.append(("3", f"Keras tutorial pipeline, {epochs} epochs", _tutorial(runs), ""))

    for epochs, runs in tutorial.items():
        ours = frozen.get("cold", {}).get(epochs)
        if not ours:
            continue
        tutorial_seconds = min(run["seconds"] for run in runs)
        training = [run["training_seconds"] for run in ours if run.get("training_seconds")]
        if training:
            ratio = tutorial_seconds / min(training)
            target = f"≥ {TARGET_SPEEDUP:g}×: {_verdict(ratio >= TARGET_SPEEDUP)}" if epochs == "10" else "reported"
            rows.append(("3 / 2", f"Speed-up, {epochs} epochs, to the end of the last epoch as for the tutorial", f"{ratio:.1f}×", target))
        ratio = tutorial_seconds / min(run["seconds"] for run in ours)
        cpu_ratio = min(run["cpu_seconds"] for run in runs) / min(run["cpu_seconds"] for run in ours)
        rows.append((
            "3 / 2", f"Speed-up, {epochs} epochs, end to end (ours also scores the test split, saves the model, releases memory)",
            f"{ratio:.1f}× wall time, {cpu_ratio:.1f}× CPU time", "reported",
        ))
    return rows


def _ours(runs: list[dict]) -> str:
    """Describe the fastest of our runs; list every run's time when there are several."""
    best = min(runs, key=lambda run: run["seconds"])
    text = ""
    if best.get("training_seconds") is not None:
        text = f"{min(run['training_seconds'] for run in runs):.1f} s to the last epoch; "
    text += f"{best['seconds']:.1f} s wall and {best['cpu_seconds']:.1f} s CPU end to end"
    if best.get("feature_seconds") is not None:
        text += f", features {best['feature_seconds']:.1f} s"
    return text + _all_seconds(runs)


def _tutorial(runs: list[dict]) -> str:
    best = min(runs, key=lambda run: run["seconds"])
    return f"{best['seconds']:.1f} s wall, {best['cpu_seconds']:.1f} s CPU" + _all_seconds(runs)


def _all_seconds(runs: list[dict]) -> str:
    if len(runs) == 1:
        return ""
    return " (fastest of " + ", ".join(f"{run['seconds']:.1f}" for run in runs) + " s)"


def _memory_rows(item: dict | None) -> list[tuple[str, str, str, str]]:
    if item is None:
        return []
    peak_met = item["peak_rss_mb"] <= TARGET_PEAK_RSS_MB
    growth_met = item["growth_mb"] <= TARGET_RSS_GROWTH_MB
    after = ", ".join(f"{value:.0f}" for value in item["rss_after_mb"])
    return [
        (
            "6", f"Peak RSS, frozen run of {item['epochs']} epochs, {item['images']} images at {item['image_size']} px",
            f"{item['peak_rss_mb']:.0f} MB", f"≤ {TARGET_PEAK_RSS_MB} MB: {_verdict(peak_met)}",
        ),
        (
            "6", f"RSS after each of {len(item['rss_after_mb'])} consecutive runs in one process",
            f"{after} MB (before the first: {item['rss_before_mb']:.0f}); growth after the first {item['growth_mb']:+.0f} MB",
            f"≤ {TARGET_RSS_GROWTH_MB} MB: {_verdict(growth_met)}",
        ),
    ]


def _cold_start_rows(item: dict | None) -> list[tuple[str, str, str, str]]:
    if item is None:
        return []
    target = f"≤ {TARGET_COLD_START_SECONDS:g} s"
    if not item.get("measured"):
        return [("7", "Home page cold start", f"not measured: {item.get('reason', '')}", target)]
    imported = "imported" if item["tensorflow_imported"] else "not imported"
    met = item["script_run_seconds"] <= TARGET_COLD_START_SECONDS and not item["tensorflow_imported"]
    return [(
        "7", "Home page cold start: AppTest script run of app.py, fresh process",
        f"{item['script_run_seconds']:.2f} s, TensorFlow {imported} (Streamlit import "
        f"{item['streamlit_import_seconds']:.1f} s, whole process {item['process_seconds']:.1f} s)",
        f"{target}: {_verdict(met)}",
    )]


def format_results(results: BenchResults, command: str) -> str:
    """Return the Markdown results block: when, how, on what, then the table."""
    machine, settings = results.machine, results.settings
    versions = library_versions()
    threads = results.steps.get("threads", {})
    lines = [
        f"Measured {results.started_at} with:",
        "",
        "```bash",
        command,
        "```",
        "",
        f"- Machine: {machine['cpu']}, nproc {machine['nproc']}, {machine['memory_gib']} GiB memory; "
        f"1-minute load average {machine['load_1min']} at the start.",
        f"- Python {machine['python']}, TensorFlow {versions.get('tensorflow', '?')}, "
        f"Keras {versions.get('keras', '?')}, Streamlit {versions.get('streamlit', '?')}.",
        f"- Data: {settings['images']} images of {settings['image_size']} px generated from the sample; "
        f"backbone {settings['backbone']}, batch size {settings['batch_size']}, seed {settings['seed']}.",
    ]
    if threads:
        intra = threads.get("intra_op") or "left as TensorFlow set them"
        lines.append(f"- TensorFlow intra-op threads: {intra} (usable cores: {threads.get('usable_cores')}).")
    lines += ["", "| Step | Measurement | Result | Target |", "|---|---|---|---|"]
    lines += [f"| {step} | {what} | {result} | {target} |" for step, what, result, target in result_rows(results)]
    return "\n".join(lines)


def write_report(results: BenchResults, path: Path, command: str) -> None:
    """Replace the results block of the Markdown file at `path`, or append one.

    The block sits between RESULTS_START and RESULTS_END, so the text around
    it stays as written.
    """
    path = Path(path)
    block = f"{RESULTS_START}\n{format_results(results, command)}\n{RESULTS_END}"
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    if RESULTS_START in text and RESULTS_END in text:
        before, rest = text.split(RESULTS_START, 1)
        text = before + block + rest.split(RESULTS_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def write_json(results: BenchResults, path: Path) -> None:
    """Write every raw measurement, including those the table leaves out, as JSON."""
    Path(path).write_text(json.dumps(asdict(results), indent=1, default=str) + "\n", encoding="utf-8")
