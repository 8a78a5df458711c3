"""Temporary files for atomic writes, and the clean-up of those a killed run left.

Every writer of the project writes under a hidden temporary name in the
destination folder and renames the result into place when it is complete.
Temporary names start with `TEMP_PREFIX` and carry the writer's process id,
`.tmp-pidPID-RANDOM-FINALNAME`, so that:

* readers ignore them (hidden names: `is_temp_name`);
* a later writer removes those whose process is gone (`remove_stale`), and
  never those of a writer still running (two exports into one folder).

A process killed with SIGKILL cannot clean up after itself; the next write
into the same folder does.

Example:

>>> path = new_temp_file("out", "model.tflite")        # doctest: +SKIP
>>> os.path.basename(path)                              # doctest: +SKIP
'.tmp-pid4242-k3j2h1-model.tflite'
>>> remove_stale("out", "model.tflite")                 # doctest: +SKIP
[]
"""

import os
import re
import shutil
import tempfile

TEMP_PREFIX = ".tmp-"
_PID_RE = re.compile(r"^\.tmp-pid(?P<pid>\d+)-")


def is_temp_name(name):
    """True for a temporary (or any hidden) file name, which readers must ignore."""
    return os.path.basename(os.fspath(name)).startswith(".")


def _umask_mode(mode):
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def new_temp_file(folder, final_name):
    """An empty temporary file `.tmp-pidPID-RANDOM-final_name` in `folder`.

    Created with the permissions a plain `open(..., "w")` would give (not
    mkstemp's 0600), so the file renamed into place is readable as usual.
    """
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}pid{os.getpid()}-",
                                suffix="-" + final_name)
    os.close(fd)
    os.chmod(temp, _umask_mode(0o666))
    return temp


def new_temp_dir(folder, final_name):
    """An empty temporary folder `.tmp-pidPID-RANDOM-final_name` in `folder` (mode 0777 - umask)."""
    temp = tempfile.mkdtemp(dir=folder, prefix=f"{TEMP_PREFIX}pid{os.getpid()}-",
                            suffix="-" + final_name)
    os.chmod(temp, _umask_mode(0o777))
    return temp


def _pid_alive(pid):
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or cannot tell: keep its files
    return True


def is_stale(name):
    """True if temporary `name` belongs to a process that no longer runs.

    Names without a process id (written by older versions: `.tmp-RANDOM...`, `.tmp-N-RANDOM`)
    count as stale.
    """
    match = _PID_RE.match(os.path.basename(name))
    return match is None or not _pid_alive(int(match["pid"]))


def remove_path(path):
    """Removes a file or a folder tree; a missing one is fine."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except FileNotFoundError:
        pass


def remove_stale(folder, final_name=None, match=None):
    """Removes the stale temporaries in `folder`; returns the removed paths.

    Args:
        folder: the destination folder (a missing folder has none).
        final_name: only temporaries of this final name (`...-final_name`).
        match: or a predicate on the file name.
    """
    if not os.path.isdir(folder):
        return []
    removed = []
    for name in sorted(os.listdir(folder)):
        if not name.startswith(TEMP_PREFIX):
            continue
        if final_name is not None and not name.endswith("-" + final_name):
            continue
        if match is not None and not match(name):
            continue
        if is_stale(name):
            path = os.path.join(folder, name)
            remove_path(path)
            removed.append(path)
    return removed
