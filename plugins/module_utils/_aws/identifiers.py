# Private to this collection.
"""The shapes of AWS identifiers the cloud-neutral core is handed, without importing boto3."""

from __future__ import annotations

import re

# An AMI id: ami- and 8 or 17 hex digits today; kept loose so an id AWS issues tomorrow still parses.
IMAGE_ID_PATTERN = re.compile(r"^ami-[0-9a-z][0-9a-z-]*$")
