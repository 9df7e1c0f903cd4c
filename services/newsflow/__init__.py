"""newsflow: streaming services that turn news article files into enriched Kafka records.

The package's layers, lowest first (`make lint` checks them with importlinter):

- `newsflow.core`: what every part shares and that needs no broker: the records and their
  schemas, topic names, settings, article ids, canonical names, the sentence encoder.
- `newsflow.runtime`: running a service: the Faust worker and its batches, Kafka clients,
  health and metrics endpoints, consumer lag, logs.
- the services, each on its own: `newsflow.watcher`, `newsflow.dedup`, `newsflow.entities`,
  `newsflow.stance`, `newsflow.sink`. None imports another.
- `newsflow.cli`: the `newsflow` command, over all of them.

`newsflow.lab` holds what only training and evaluation use; nothing a service runs imports it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newsflow")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
