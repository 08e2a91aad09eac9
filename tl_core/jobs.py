"""The training queue: each run trains in its own worker process.

`submit()` writes `runs/<run_id>/job.json` (status "queued") and makes sure a
supervisor process is alive. The supervisor starts queued jobs in submission
order, at most `max_workers` at a time, each as `python -m tl_core.worker
<run folder>`, and exits when the queue is empty. All processes are detached
from the caller, so training survives Streamlit reruns, closed tabs and a
restarted server. When a worker exits, the operating system frees all the
memory TensorFlow held.

The state of a run is read from its folder alone:
    summary.json present            its status (finished, stopped, failed)
    worker.json names a live pid    running
    job.json only                   queued (or interrupted, if no supervisor lives)
    worker.json names a dead pid    interrupted
"""

import fcntl
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tl_core import runs
from tl_core.settings import data_root

log = logging.getLogger(__name__)

STATUS_QUEUED = "queued"
JOB_FILE = "job.json"
WORKER_FILE = "worker.json"
SUPERVISOR_LOCK = ".supervisor.lock"
DEFAULT_MAX_WORKERS = int(os.environ.get("TL_MAX_WORKERS", "2"))
POLL_SECONDS = 0.5
SUPERVISOR_START_SECONDS = 10.0


@dataclass
class RunInfo:
    """A run as listed by readers: its folder, status, job and summary."""

    run_id: str
    folder: Path
    status: str
    job: dict
    summary: dict | None

    @property
    def config(self) -> dict:
        return self.job.get("config", {})


def runs_root(root: Path | None = None) -> Path:
    return Path(root) if root is not None else data_root() / "runs"


def submit(config, dataset_file: Path, root: Path | None = None, race: str | None = None,
           start_supervisor: bool = True) -> str:
    """Queue one run of `config` (a TrainConfig) on the dataset saved at `dataset_file`.

    Returns the run id. `race` groups runs started together for the charts.
    """
    config.validate()
    folder_root = runs_root(root)
    run_id = runs.new_run_id(config.backbone, config.mode)
    folder = folder_root / run_id
    folder.mkdir(parents=True)
    runs.write_json_atomic(
        folder / JOB_FILE,
        {
            "run_id": run_id,
            "config": config.to_dict(),
            "dataset_file": str(Path(dataset_file).resolve()),
            "race": race,
            "submitted_at": datetime.now(timezone.utc).isoformat(),
        },
    )
    log.info("Queued run %s", run_id)
    if start_supervisor:
        ensure_supervisor(folder_root)
    return run_id


def stop(run_id: str, root: Path | None = None) -> None:
    """Stop a run: a running worker stops after its batch; a queued job never starts."""
    folder = runs_root(root) / run_id
    runs.request_stop(folder)
    if _read_worker(folder) is None and not (folder / "summary.json").exists():
        runs.write_json_atomic(
            folder / "summary.json",
            {"status": runs.STATUS_STOPPED, "error": None, "test_accuracy": None,
             "epochs_completed": 0, "note": "stopped before it started"},
        )


def run_status(folder: Path) -> str:
    """Return finished, stopped, failed, running, queued or interrupted."""
    summary = runs.read_json(folder / "summary.json")
    if summary is not None:
        return summary.get("status", runs.STATUS_FAILED)
    worker = _read_worker(folder)
    if worker is not None:
        return runs.STATUS_RUNNING if _alive(worker["pid"], folder) else runs.STATUS_INTERRUPTED
    if supervisor_alive(folder.parent):
        return STATUS_QUEUED
    return runs.STATUS_INTERRUPTED


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Return every run folder under the runs root, newest first."""
    _reap_supervisors()
    folder_root = runs_root(root)
    if not folder_root.is_dir():
        return []
    infos = []
    for folder in sorted(folder_root.iterdir(), reverse=True):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        job = runs.read_json(folder / JOB_FILE) or _job_from_config(folder)
        if job is None:
            continue
        infos.append(
            RunInfo(
                run_id=folder.name, folder=folder, status=run_status(folder), job=job,
                summary=runs.read_json(folder / "summary.json"),
            )
        )
    return infos


def _job_from_config(folder: Path) -> dict | None:
    """Describe a run made by the CLI (no job.json) from its config.json."""
    config = runs.read_json(folder / "config.json")
    if config is None:
        return None
    return {"run_id": folder.name, "config": config.get("config", {}), "race": None,
            "dataset_file": None}


def _read_worker(folder: Path) -> dict | None:
    return runs.read_json(folder / WORKER_FILE)


def _alive(pid: int, folder: Path) -> bool:
    """Tell whether `pid` is a live worker of `folder` (guards against reused pids)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        if "<defunct>" in text or not text:
            return False
        return folder.name in text
    return True


# Supervisor ---------------------------------------------------------------


def supervisor_alive(folder_root: Path) -> bool:
    """Tell whether a supervisor holds the queue lock of `folder_root`."""
    lock_path = Path(folder_root) / SUPERVISOR_LOCK
    if not lock_path.exists():
        return False
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def ensure_supervisor(folder_root: Path) -> None:
    """Start a detached supervisor for `folder_root` unless one is running."""
    folder_root.mkdir(parents=True, exist_ok=True)
    if supervisor_alive(folder_root):
        return
    _reap_supervisors()
    process = subprocess.Popen(
        [sys.executable, "-m", "tl_core.jobs", str(folder_root)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(folder_root / ".supervisor.log", "a"),
        start_new_session=True, cwd=os.getcwd(),
    )
    _supervisors.append(process)
    # Wait until the supervisor holds its lock, so that run_status() reads the
    # new job as queued rather than interrupted.
    deadline = time.monotonic() + SUPERVISOR_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        if supervisor_alive(folder_root):
            return
        time.sleep(0.05)
    if not supervisor_alive(folder_root):
        log.warning("Queue supervisor for %s did not start within %s s", folder_root, SUPERVISOR_START_SECONDS)


# Supervisors started by this process. Polling them collects the exit status
# of those that ended, so that they do not linger as zombie processes.
_supervisors: list[subprocess.Popen] = []


def _reap_supervisors() -> None:
    _supervisors[:] = [process for process in _supervisors if process.poll() is None]


def queued_folders(folder_root: Path) -> list[Path]:
    """Jobs not yet started, in submission order."""
    pending = []
    for folder in folder_root.iterdir():
        job = runs.read_json(folder / JOB_FILE) if folder.is_dir() else None
        if job is None:
            continue
        if (folder / WORKER_FILE).exists() or (folder / "summary.json").exists():
            continue
        pending.append((job.get("submitted_at", ""), folder.name, folder))
    return [folder for _, _, folder in sorted(pending)]


def supervise(folder_root: Path, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
    """Run queued jobs until none is left. Only one supervisor per root holds the lock."""
    lock = open(folder_root / SUPERVISOR_LOCK, "a")
    try:
        while _acquire(lock):
            try:
                _run_queue(folder_root, max_workers)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            # submit() writes job.json before it checks for a live supervisor,
            # so a job queued while this one was about to exit is seen here.
            if not queued_folders(folder_root):
                return
    finally:
        lock.close()


def _acquire(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _run_queue(folder_root: Path, max_workers: int) -> None:
    workers: dict[Path, subprocess.Popen] = {}
    while True:
        for folder, process in list(workers.items()):
            if process.poll() is not None:
                log.info("Worker for %s exited with %s", folder.name, process.returncode)
                del workers[folder]
        pending = [folder for folder in queued_folders(folder_root) if folder not in workers]
        while pending and len(workers) < max_workers:
            folder = pending.pop(0)
            workers[folder] = start_worker(folder)
        if not workers and not pending:
            return
        time.sleep(POLL_SECONDS)


def start_worker(folder: Path) -> subprocess.Popen:
    log.info("Starting worker for %s", folder.name)
    process = subprocess.Popen(
        [sys.executable, "-m", "tl_core.worker", str(folder)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(folder / "worker.log", "a"), start_new_session=True,
    )
    runs.write_json_atomic(folder / WORKER_FILE, {"pid": process.pid})
    return process


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    supervise(Path(sys.argv[1]))
