"""Errors the trainer reports as one clear line and a non-zero exit code."""


class TrainingError(Exception):
    """A failure the user can act on; the message is the whole story."""

    exit_code = 1


class ConfigError(TrainingError):
    exit_code = 2


class DataError(TrainingError):
    exit_code = 3


class TrackingUnavailable(TrainingError):
    exit_code = 4


class Interrupted(BaseException):
    """Raised from the SIGTERM handler so that every ``with`` block unwinds (runs end FAILED)."""

    exit_code = 143
