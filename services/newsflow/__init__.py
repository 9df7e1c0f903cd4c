"""newsflow's shared library: records, topics, settings, logging, the service runtime and
Kafka helpers. Services import it; it imports no service and has no entry point."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newsflow")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
