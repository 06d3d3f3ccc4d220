# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of the builder workflow (bake) for modules and plugins."""

from __future__ import annotations

from ._core.builders import Builder, BuilderRequest, BuilderWorkflow, is_expired

__all__ = ["Builder", "BuilderRequest", "BuilderWorkflow", "is_expired"]
