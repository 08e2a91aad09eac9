"""Console progress for `python -m tl_core train`: bars, one line per epoch."""

import sys

from tqdm import tqdm

PHASE_LABELS = {
    "loading": "loading images",
    "features": "extracting features",
}


class ConsoleProgress:
    """A training listener that draws tqdm bars on stderr and epoch lines on stdout."""

    def __init__(self):
        self.bar = None
        self.bar_key = None
        self.epochs = None

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if kind == "phase":
            stage, _, split = event["phase"].partition(":")
            label = f"{PHASE_LABELS.get(stage, stage)} ({split})"
            bar = self._bar((stage, split), event["total"], label)
            bar.update(event["done"] - bar.n)
        elif kind == "start":
            self.epochs = event["epochs"]
            cached = " (features cached: epoch 2+ is fast)" if event["feature_cache"] else ""
            self.write(
                f"training {event['train_images']} images, {event['trainable_params']:,} of "
                f"{event['total_params']:,} parameters trainable{cached}"
            )
        elif kind == "batch":
            bar = self._bar(("epoch", event["epoch"]), event["batches"], f"epoch {event['epoch']}/{self.epochs}")
            bar.update(event["batch"] - bar.n)
            if event["loss"] is not None:
                bar.set_postfix(loss=f"{event['loss']:.4f}", acc=f"{event['accuracy']:.3f}", refresh=False)
        elif kind == "epoch":
            self.close()
            self.write(format_epoch(event, self.epochs))

    def _bar(self, key, total, label):
        if self.bar_key != key:
            self.close()
            self.bar = tqdm(total=total, desc=label, unit="batch" if key[0] == "epoch" else "img",
                            leave=False, file=sys.stderr, dynamic_ncols=True)
            self.bar_key = key
        return self.bar

    def write(self, line: str) -> None:
        tqdm.write(line, file=sys.stdout)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.bar_key = None


def format_epoch(event: dict, epochs) -> str:
    def show(value):
        return "  n/a " if value is None else f"{value:.4f}"

    return (
        f"epoch {event['epoch']:>3}/{epochs}  loss {show(event['loss'])}  acc {show(event['accuracy'])}  "
        f"val_loss {show(event['val_loss'])}  val_acc {show(event['val_accuracy'])}  "
        f"{event['seconds']:.1f} s  {event['images_per_second'] or 0:.0f} img/s"
    )
