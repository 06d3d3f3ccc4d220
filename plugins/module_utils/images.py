# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of the image workflow for modules and plugins."""

from __future__ import annotations

from ._core.images import ImageRequest, ImageWorkflow, Outcome
from ._core.model import Image, ImageUser, newest_first
from ._core.signing import ImageSigning

__all__ = ["Image", "ImageRequest", "ImageSigning", "ImageUser", "ImageWorkflow", "Outcome", "newest_first"]
