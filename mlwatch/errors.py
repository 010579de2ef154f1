"""The project's exception root. Every error a user can cause names the thing and the fix."""


class MlwatchError(Exception):
    """Base of every error mlwatch raises on purpose."""


class ConfigError(MlwatchError):
    """The configuration file is missing, malformed or invalid."""


class SourceError(MlwatchError):
    """A data source could not be read (unreachable database, missing table or file)."""

    recoverable = True


class StoreError(MlwatchError):
    """The mlwatch store could not be opened or migrated."""
