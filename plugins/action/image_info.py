# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs phoenix.immutable.image_info and shows its progress: plugin_utils/module_action.py."""

from __future__ import annotations

from ansible_collections.phoenix.immutable.plugins.plugin_utils.module_action import ModuleActionBase


class ActionModule(ModuleActionBase):
    pass
