"""The project's own exception types.

Every failure that a user can fix (a bad dataset, a missing weight file, an
invalid setting) raises a subclass of `TLError`, whose message says what
failed, on which file or value, and what to do. The CLI and the UI show the
message and never a traceback.
"""


class TLError(Exception):
    """Base class for errors with a message meant for the user."""


class ArchiveError(TLError):
    """An archive is unsafe, unreadable or over a configured cap."""


class DatasetError(TLError):
    """A dataset cannot be used for training (too few classes or images)."""


class ImageDecodeError(TLError):
    """One image file cannot be decoded; ingestion skips it."""


class WeightsError(TLError):
    """Pretrained weights are unavailable or failed to convert."""


class ConfigError(TLError):
    """A training setting is invalid."""
