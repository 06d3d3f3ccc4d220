"""Where the collection's resources live in the Azure tests, for the fixtures and the tests alike.

Test modules import these from here, not from ``conftest``: with several conftest.py files in one pytest
process, ``import conftest`` names whichever was imported first.
"""

from __future__ import annotations

RESOURCE_GROUP = "rg-phoenix"
GALLERY = "phoenix_gallery"
