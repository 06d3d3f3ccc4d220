"""Copy the collection's own files into DEST/ansible_collections/phoenix/immutable, fresh each time.

ansible-test must run inside a directory laid out as ansible_collections/NAMESPACE/NAME and resolves
symlinks (it uses the physical working directory), so `make sanity` works on a real copy.

The files copied are what git would commit: tracked files plus untracked ones that .gitignore does not
exclude (`git ls-files -co --exclude-standard`), so a change works here before it is committed. Tracked
files deleted from the work tree are skipped. Nothing else (.venv, caches, build output) is copied.

The copy gets an empty git repository of its own: ansible-test asks the nearest enclosing git work tree
for the files to test (`git ls-files --cached --others --exclude-standard`), and without one it would
ask this repository, which ignores .build/, and find nothing to test.

Usage: python tools/stage_collection.py DEST   (prints the staged collection directory)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def collection_files(root: Path = ROOT) -> list[str]:
    """Relative paths of the files git would commit from `root`, including new untracked ones."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        raise SystemExit(
            f"stage_collection: cannot list the collection's files with git in {root}: {error} "
            f"{detail.decode(errors='replace').strip()}\nRun this from a git checkout of the collection."
        ) from None
    paths = sorted({name for name in listed.decode().split("\0") if name})
    return [name for name in paths if (root / name).is_symlink() or (root / name).is_file()]


def stage(dest: Path, root: Path = ROOT) -> Path:
    """Replace DEST/ansible_collections/phoenix/immutable by a copy of the collection's files."""
    target = dest / "ansible_collections" / "phoenix" / "immutable"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in collection_files(root):
        source, copy = root / name, target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, copy, follow_symlinks=False)
    subprocess.run(["git", "init", "--quiet", str(target)], check=True)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    print(stage(Path(argv[1]).resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
