"""Exception types whose messages are meant for users.

Each carries one clear sentence naming the file or value at fault; the CLI prints it without a
traceback and exits non-zero, the app shows it with ``st.error``.
"""


class CifarError(Exception):
    """Base class of every error a user can act on."""


class DataError(CifarError):
    """A dataset source is missing, malformed or not CIFAR-10 shaped."""


class ConfigError(CifarError, ValueError):
    """A configuration value is out of range or inconsistent."""


class CheckpointError(CifarError):
    """A checkpoint is missing, tampered with, foreign or could not be written."""


class RunError(CifarError):
    """A run id or run folder is unknown, unsafe or in the wrong state for the request."""


class WeightsUnavailableError(CifarError):
    """Pretrained weights cannot be found locally and cannot be downloaded."""
