# Private to this collection.
"""What a cloud gives the collection: its connection options and one factory per backend.

One Provider subclass per cloud, listed in the provider map (``plugins/module_utils/providers.py``). A
provider is built from the resolved options of a task (a module's params, a lookup's or a callback's
options) and opens one connection, so every backend of a task shares it and its call count. Backends
are imported only when asked for: a user of one cloud never needs another cloud's SDK.
"""

from __future__ import annotations

import abc

from .backends import BLOB_PREFIX, BlobStore
from .errors import PhoenixError


class Provider(abc.ABC):
    """One cloud. Subclasses set the three class attributes and implement every factory.

    A subclass is built as ``Provider(params)``: ``params`` is a mapping holding (at least) its ``options``.
    """

    # The value of the ``cloud`` option that chooses this provider.
    cloud = None
    # The doc fragment documenting ``options``, for example ``phoenix.immutable.aws``.
    doc_fragment = None
    # The connection options every module of the collection accepts for this cloud, as an Ansible
    # argument spec. Their names must not clash with another provider's (argspec.py refuses a clash).
    options = {}

    @abc.abstractmethod
    def images(self, region=None):
        """The ImageBackend of the connection's region, or of ``region`` (for copies)."""

    @abc.abstractmethod
    def builders(self):
        """The BuilderBackend."""

    @abc.abstractmethod
    def signing_keys(self, region=None):
        """The SigningKeyBackend (the cloud's key service) of the connection's region, or of ``region``."""

    @staticmethod
    @abc.abstractmethod
    def key_service(connection, region=None):
        """The SigningKeyBackend on an existing connection (the one of an ImageBackend), in ``region``."""

    @abc.abstractmethod
    def groups(self):
        """The GroupBackend (instance groups of a service)."""

    @abc.abstractmethod
    def traffic(self):
        """The TrafficBackend (how the load balancer splits traffic between groups)."""

    @abc.abstractmethod
    def health(self):
        """The HealthBackend (alarms and target health the swap gates on)."""

    @abc.abstractmethod
    def instances(self):
        """The InstanceBackend (the instances the drift check reads and replaces)."""

    @abc.abstractmethod
    def audit_store(self, container, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
        """Where each run's audit lines are put: a bucket or container of the cloud's object storage.

        ``lock_mode`` and ``retention_days`` ask for write-once retention where the container has it. The
        store's ``put_run(run, lines, head, first_time)`` returns ``{key, version_id, protection,
        retain_until}``, ``protection`` being ``{versioning, object_lock}``.
        """

    @abc.abstractmethod
    def rollout_store(self):
        """Where the swap records the phases of a rollout, so a run that stopped can resume it."""

    def blob_store(self, container, prefix=BLOB_PREFIX):
        """The BlobStore of ``container`` (a bucket or container of the cloud's object storage).

        The cloud's audit store is one where its adapter implements ``backends.BlobStore``; a cloud whose
        adapter does not yet is refused with code ``Unsupported``, never silently skipped.
        """
        store = self.audit_store(container, prefix=prefix)
        if not isinstance(store, BlobStore):
            raise PhoenixError(
                "storing attestation reports by digest is not supported on %s yet" % self.cloud,
                resource=container,
                code="Unsupported",
                cloud=self.cloud,
                hint="Leave the store option out: attestations are then kept in the image's tags only "
                "(summarised when too large).",
            )
        return store
