"""The project's own exception types.

Every failure that a user can fix (a bad dataset, a missing weight file, an
invalid setting) raises a subclass of `TLError`, whose message says what
failed, on which file or value, and what to do. The CLI and the UI show the
message and never a traceback.

`ArchiveError` and `DatasetError` also carry a stable `code` and `params`, so
that the UI can show the refusal in the user's language; `ImageDecodeError`
carries the code, the short reason and the path of the file that failed.
"""


class TLError(Exception):
    """Base class for errors with a message meant for the user."""


class _CodedError(TLError):
    """A TLError with a stable `code` and the `params` that a translated message needs."""

    default_code = "error"

    def __init__(self, message: str, code: str | None = None, params: dict | None = None):
        super().__init__(message)
        self.code: str = code or self.default_code
        self.params: dict = dict(params or {})

    def __reduce__(self):
        # Keeps code and params when the error crosses a process boundary.
        return (type(self), (str(self), self.code, self.params))


class ArchiveError(_CodedError):
    """An archive is unsafe, unreadable or over a configured cap.

    Codes: see `tl_core.archive.ARCHIVE_ERROR_CODES`.
    """

    default_code = "invalid_archive"


class DatasetError(_CodedError):
    """A dataset cannot be used for training (too few classes or images).

    Codes: see `tl_core.datasets.DATASET_ERROR_CODES`.
    """

    default_code = "invalid_dataset"


class ImageDecodeError(TLError):
    """One image file cannot be decoded; ingestion skips it.

    Attributes:
        code: a stable code from `tl_core.images.DECODE_ERROR_CODES`.
        reason: a short text without the file name, for lists of skipped files.
        path: the file name or path that failed.
    """

    def __init__(self, message: str, code: str = "corrupt", reason: str | None = None, path: str = ""):
        super().__init__(message)
        self.code: str = code
        self.reason: str = reason if reason is not None else message
        self.path: str = path

    def __reduce__(self):
        return (type(self), (str(self), self.code, self.reason, self.path))


class WeightsError(TLError):
    """Pretrained weights are unavailable or failed to convert."""


class ConfigError(TLError):
    """A training setting is invalid."""
