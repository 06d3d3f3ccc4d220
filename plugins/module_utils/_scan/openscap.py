# Private to this collection.
"""Running an OpenSCAP evaluation: ``oscap xccdf eval --profile P --results R DATASTREAM``.

- On the running system (root ``/``): ``oscap`` itself.
- On a mounted root filesystem: ``oscap-chroot <root> xccdf eval …`` when that script is on PATH, else
  ``oscap`` with the two environment variables ``oscap-chroot`` sets (``OSCAP_PROBE_ROOT=<root>``,
  ``OSCAP_EVALUATION_TARGET=chroot://<root>``): the probes then read files under the root, offline. Debian
  12's ``openscap-scanner`` ships ``oscap`` but not ``oscap-chroot``, so the second form is the one used there.

oscap's exit codes: 0 every selected rule passed, 2 some rule failed (a result, not an error), 1 or any
other an error. The results file is then summarised by ``xccdf.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .._core.errors import PhoenixError

OSCAP = "oscap"
OSCAP_CHROOT = "oscap-chroot"
EXIT_PASSED = 0
EXIT_RULES_FAILED = 2
INSTALL_HINT = (
    "Install OpenSCAP on the host that runs the scan: apt-get install openscap-scanner ssg-debian on Debian or "
    "Ubuntu, dnf install openscap-scanner scap-security-guide on RHEL and its rebuilds (see bindep.txt)."
)


def oscap_command(profile, datastream, results, root="/", which=shutil.which):
    """``(argv, extra environment)`` of the evaluation of ``profile`` from ``datastream`` on ``root``."""
    evaluation = ["xccdf", "eval", "--profile", profile, "--results", results, datastream]
    oscap = which(OSCAP)
    if not oscap:
        raise PhoenixError(
            "oscap is not installed on this host (not on PATH)", resource=OSCAP, code="OscapMissing", hint=INSTALL_HINT
        )
    if os.path.abspath(root) == "/":
        return [oscap, *evaluation], {}
    target = os.path.abspath(root)
    chroot = which(OSCAP_CHROOT)
    if chroot:
        return [chroot, target, *evaluation], {}
    return [oscap, *evaluation], {"OSCAP_PROBE_ROOT": target, "OSCAP_EVALUATION_TARGET": "chroot://%s" % target}


def run_oscap(profile, datastream, results, root="/", timeout=1800, which=shutil.which):
    """Evaluate; returns ``{"rc", "command", "stderr"}``. Exit 0 and 2 are results, anything else fails."""
    if not os.path.isdir(root):
        raise PhoenixError("the root %s to scan is not a directory" % root, resource=root, code="InvalidInput")
    if not os.path.isfile(datastream):
        raise PhoenixError(
            "the SCAP datastream %s does not exist" % datastream,
            resource=datastream,
            code="InvalidInput",
            hint="Give the source datastream of your distribution's content, e.g. "
            "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml (ssg-debian), and a profile oscap info lists in it.",
        )
    command, extra = oscap_command(profile, datastream, results, root, which)
    environment = dict(os.environ, **extra)
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False, env=environment)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PhoenixError("cannot run %s: %s" % (command[0], error), resource=root, code="OscapFailed") from None
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode not in (EXIT_PASSED, EXIT_RULES_FAILED):
        raise PhoenixError(
            "oscap failed on %s with profile %s (exit %d): %s"
            % (root, profile, done.returncode, (stderr.strip() or done.stdout.decode("utf-8", "replace"))[-2000:]),
            resource=root,
            code="OscapFailed",
            hint="Check that the profile is one oscap info %s lists, and that the datastream is for this "
            "distribution." % datastream,
        )
    if not os.path.isfile(results):
        raise PhoenixError("oscap wrote no results to %s" % results, resource=root, code="OscapFailed")
    return {"rc": done.returncode, "command": command, "environment": extra, "stderr": stderr[-2000:]}
