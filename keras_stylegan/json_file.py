"""Reading a small JSON object from a file a user gave (a training run's `config.json`).

A run directory is user input: `train --init RUN`, `train` resuming in
`--outdir`, `metrics RUN/network-snapshot-*.keras` read its `config.json`. A run's
config is a few kilobytes; `read_json_object` refuses a file over
`MAX_JSON_OBJECT_BYTES` before reading it, and anything that is not one JSON
object (invalid JSON, another encoding, a list, nesting deep enough to
exhaust Python's recursion) with one error that names the file and the
problem.

Example:

>>> import json, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "config.json")
>>> with open(path, "w") as f:
...     json.dump({"family": "stylegan2"}, f)
>>> read_json_object(path)
{'family': 'stylegan2'}
>>> with open(path, "w") as f:
...     json.dump([1, 2], f)
>>> read_json_object(path, what="a run's config.json")   # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: .../config.json is not a run's config.json: it holds a JSON list, not an object.
"""

import json
import os

MAX_JSON_OBJECT_BYTES = 1 << 20  # 1 MiB: a run's config.json is about 3 KB


def read_json_object(path, what="a JSON object", error=ValueError,
                     max_bytes=MAX_JSON_OBJECT_BYTES):
    """The dict stored as JSON in the file `path`.

    Args:
        path: the file.
        what: what the file should be, for the messages ("a run's config.json").
        error: the exception type raised (a `ValueError` subclass of the caller's).
        max_bytes: larger files are refused without being read.

    Raises:
        `error`, naming `path`, when the file cannot be read, is larger than
        `max_bytes`, is not UTF-8 JSON, or holds another JSON value than an object.
    """
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise error(f"Cannot read {path} ({e.strerror or e}).") from None
    if size > max_bytes:
        raise error(f"{path} is {size:,} bytes, too large for {what} (the limit is "
                    f"{max_bytes:,} bytes): give the file (or run directory) that "
                    "keras-stylegan wrote.")
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)  # the file may grow after getsize
        if len(data) > max_bytes:
            raise OverflowError
        value = json.loads(data.decode("utf-8"))
    except OSError as e:
        raise error(f"Cannot read {path} ({e.strerror or e}).") from None
    except OverflowError:
        raise error(f"{path} is over {max_bytes:,} bytes, too large for {what}.") from None
    except RecursionError:
        raise error(f"{path} is not {what}: its JSON is nested too deeply.") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise error(f"{path} is not {what}: it is not UTF-8 JSON ({str(e)[:200]}).") from None
    if not isinstance(value, dict):
        kind = {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
            type(value), "number")
        raise error(f"{path} is not {what}: it holds a JSON {kind}, not an object.")
    return value
