# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of retention (image_prune) for modules and plugins."""

from __future__ import annotations

from ._core.retention import ACTIONS, DELETE, DEPRECATE, PruneOutcome, PruneRequest, RetentionWorkflow
from .builders import BuilderWorkflow

__all__ = ["ACTIONS", "DELETE", "DEPRECATE", "PruneOutcome", "PruneRequest", "RetentionWorkflow", "prune"]


def prune(images, groups, builders, request, waiter, check_mode=False, key_dir=None):
    """Prune images by ``request`` (a PruneRequest) and reap expired builders through the builder workflow.

    ``images``, ``groups`` and ``builders`` are the cloud's ImageBackend, GroupBackend and BuilderBackend
    (providers.retention_backends); returns a PruneOutcome.
    """
    reaper = None
    if request.reap_builders and builders is not None:
        reaper = _Reaper(BuilderWorkflow(builders, images, waiter, check_mode=check_mode), key_dir)
    workflow = RetentionWorkflow(images, groups, reaper, check_mode=check_mode, waiter=waiter)
    return workflow.prune(request)


class _Reaper:
    """The builder workflow's reap, with the folder of builders' private keys bound."""

    def __init__(self, workflow, key_dir):
        self.workflow = workflow
        self.key_dir = key_dir

    def reap(self):
        return self.workflow.reap(key_dir=self.key_dir)
