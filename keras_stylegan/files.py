"""Atomic writes: temporary names, the clean-up of those a killed run left, and
one clear error when a write fails (a full disk).

Every writer of the project writes under a hidden temporary name in the
destination folder and renames the result into place when it is complete.
Temporary names start with `TEMP_PREFIX` and carry the writer's process id,
`.tmp-pidPID-RANDOM-FINALNAME`, so that:

* readers ignore them (hidden names: `is_temp_name`);
* a later writer removes those whose process is gone (`remove_stale`), and
  never those of a writer still running (two exports into one folder).

A process killed with SIGKILL cannot clean up after itself; the next write
into the same folder does. A write that fails (no space left, quota, I/O
error) raises `WriteError` (an `OSError`) naming what was being written;
since nothing is renamed into place before it is complete, the files that
were there are intact.

Example:

>>> path = new_temp_file("out", "model.tflite")        # doctest: +SKIP
>>> os.path.basename(path)                              # doctest: +SKIP
'.tmp-pid4242-k3j2h1-model.tflite'
>>> remove_stale("out", "model.tflite")                 # doctest: +SKIP
[]
"""

import contextlib
import errno
import os
import re
import shutil
import tempfile

TEMP_PREFIX = ".tmp-"
_PID_RE = re.compile(r"^\.tmp-pid(?P<pid>\d+)-")


# errno values of a full disk or quota.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class WriteError(OSError):
    """A file could not be written (full disk, quota, I/O error); nothing was replaced."""


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


def _tf_write_error(error):
    """(is a TensorFlow I/O error, is a full disk) of an exception, without importing TF."""
    module = type(error).__module__ or ""
    if not module.startswith("tensorflow"):
        return False, False
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover - TF is loaded if it raised
        return False, False
    if not isinstance(error, tf.errors.OpError):
        return False, False
    return True, isinstance(error, tf.errors.ResourceExhaustedError)


@contextlib.contextmanager
def write_errors(what, path, hint="", full_only=False):
    """Turns a failed write inside the block into one `WriteError`.

    TensorFlow's errors (a full disk is `ResourceExhaustedError`) and
    `OSError`s become `WriteError("Could not write WHAT PATH: REASON. HINT")`;
    with `full_only`, only those of a full disk (for blocks that also read).

    Example:

    >>> with write_errors("the checkpoint", "runs/x/checkpoints"):   # doctest: +SKIP
    ...     manager.save()
    """
    try:
        yield
    except WriteError:
        raise
    except Exception as e:  # noqa: BLE001 - filtered below, others re-raised untouched
        is_tf, tf_full = _tf_write_error(e)
        if is_tf:
            full, detail = tf_full, e.message
        elif isinstance(e, OSError):
            full, detail = e.errno in DISK_FULL_ERRNOS, e.strerror or str(e)
        else:
            raise
        if full_only and not full:
            raise
        reason = "the disk is full (or over quota)" if full else detail.splitlines()[0]
        message = f"Could not write {what} {path}: {reason}."
        if hint:
            message += " " + hint
        error = WriteError(message)
        error.errno = errno.ENOSPC if full else getattr(e, "errno", None)
        raise error from None


@contextlib.contextmanager
def atomic_file(path, what="the file", hint=""):
    """The one way to write a file: yields a temporary path beside `path`,
    renamed onto `path` when the block succeeds (atomic on one filesystem),
    removed when it fails. Stale temporaries of `path` are removed first;
    write failures become one `WriteError` (see `write_errors`).

    Example:

    >>> with atomic_file("out/grid.png", "the image") as tmp:   # doctest: +SKIP
    ...     Image.fromarray(pixels).save(tmp, format="PNG")
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale(folder, os.path.basename(path))
    tmp = new_temp_file(folder, os.path.basename(path))
    try:
        with write_errors(what, path, hint):
            yield tmp
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
