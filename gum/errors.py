"""The errors gum raises on purpose; the CLI turns each into one clear line with the fix in it."""


class GumError(Exception):
    """Base of every error gum reports to a user."""


class ConfigError(GumError):
    """A setting is missing or wrong."""


class ModelError(GumError):
    """The model could not be loaded or did not answer."""


class ModelOutputError(ModelError):
    """The model answered, but not with what the schema asks for, even after repair and retries."""


class StorageError(GumError):
    """The database could not be opened or written."""


class NotFound(GumError):
    """No proposition or observation with that id."""


class InputError(GumError):
    """A file given to gum could not be read (a corrupt image, a malformed JSONL line)."""
