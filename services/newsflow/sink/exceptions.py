"""What can go wrong with a store, in the two kinds the sink treats differently: the store
is away (wait and retry, lose nothing) or the store refuses one record (dead-letter it)."""


class StoreError(Exception):
    """Any failure of a store."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or cannot write right now; the same write is retried."""


class RecordRejected(StoreError):
    """The store refuses the data itself (e.g. PostgreSQL and a NUL character in text);
    retrying the same record cannot succeed."""


class StoreNotReady(StoreError):
    """A store opened for queries is missing or has a schema this version does not know."""


class StoreURLError(StoreError, ValueError):
    """A store URL this sink cannot use; raised at start, naming the URL."""
