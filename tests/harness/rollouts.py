"""The points of a canary 10/50/100 where a rollout's record is written, for the kill-and-resume tests of every
cloud: (phase, weight, where the next run resumes). The lock is the creation of green carrying the record; the
phases between these points (template, target, wait_healthy, retiring blue) write nothing of their own, and a
resumed run does them again."""

from __future__ import annotations

RECORD_POINTS = [
    ("locked", None, "locked"),
    ("launch", None, "launch"),
    ("shift", "10", "shift"),
    ("shift", "50", "shift"),
    ("shift", "100", "shift"),
    ("keep_blue", None, "keep_blue"),
    ("done", None, "retire_blue"),
]
RECORD_POINT_IDS = ["%s%s" % (phase, "-" + weight if weight else "") for phase, weight, _resumed in RECORD_POINTS]
