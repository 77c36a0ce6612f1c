"""Read replicas (README, "Running in production"): `DATABASE_REPLICA_URLS` declares them, the
`@api(replica_reads=True)` endpoints read from them, and everything else uses the primary.

Within `reads_from_replica()` reads go to a replica until the first write; from then on the rest
of the request reads the primary, so that it sees what it wrote. Reads inside a transaction of
the primary stay there too."""

import contextlib
import contextvars
import random

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


class _RequestReads:
    def __init__(self):
        self.written = False


# The reads of the current request, when they may go to a replica; None otherwise.
_replica_reads = contextvars.ContextVar("replica_reads", default=None)


@contextlib.contextmanager
def reads_from_replica(*, enabled=True):
    """Let the reads of the block go to a read replica (until the block writes)."""
    token = _replica_reads.set(_RequestReads() if enabled else None)
    try:
        yield
    finally:
        _replica_reads.reset(token)


class ReplicaRouter:
    """Writes, and reads outside `reads_from_replica()`, go to the primary ("default")."""

    def db_for_read(self, model, **hints):
        reads = _replica_reads.get()
        if (
            reads is None
            or reads.written
            or not settings.READ_REPLICAS
            or connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return DEFAULT_DB_ALIAS
        return random.choice(settings.READ_REPLICAS)

    def db_for_write(self, model, **hints):
        reads = _replica_reads.get()
        if reads is not None:
            reads.written = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replicas hold the primary's data: an object read from one may be related to any.
        return True

    def allow_migrate(self, db, app_label, **hints):
        # Replicas follow the primary's schema through replication.
        return db == DEFAULT_DB_ALIAS
