# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs phoenix.immutable.fleet_drift and shows its progress lines on the controller as they come."""

from __future__ import annotations

from ansible_collections.phoenix.immutable.plugins.plugin_utils.progress_action import ProgressActionBase


class ActionModule(ProgressActionBase):
    pass
