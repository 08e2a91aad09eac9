"""Worker process: `python -m tl_core.worker <run folder>` trains one queued job."""

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tl_core import runs  # noqa: E402
from tl_core.errors import TLError  # noqa: E402

log = logging.getLogger("tl_core.worker")


def main(folder: Path) -> int:
    from tl_core.datasets import Dataset
    from tl_core.jobs import JOB_FILE
    from tl_core.training import TrainConfig, train

    job = runs.read_json(folder / JOB_FILE)
    if runs.stop_requested(folder):
        return 0
    try:
        dataset = Dataset.load(Path(job["dataset_file"]))
        config = TrainConfig.from_dict(job["config"])
        train(config, dataset, folder)
    except TLError as error:
        log.error("Run %s failed: %s", folder.name, error)
        if not (folder / "summary.json").exists():
            runs.write_json_atomic(folder / "summary.json", {"status": runs.STATUS_FAILED, "error": str(error)})
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sys.exit(main(Path(sys.argv[1])))
