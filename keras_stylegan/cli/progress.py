"""Progress reports of long commands on stderr (stdout stays for results).

On a terminal a count is redrawn in place; otherwise (a log file, a pipe) it is
one line per update, at most one a second besides the first and the last.

Example:

>>> import io
>>> out = io.StringIO()
>>> p = Progress("generate", total=16, unit="images", stream=out)
>>> p.update(8); p.update(16)
>>> print(out.getvalue(), end="")
keras-stylegan generate: 8/16 images
keras-stylegan generate: 16/16 images
>>> Steps("export", 2, stream=out).step("loading the network")
>>> out.getvalue().splitlines()[-1]
'keras-stylegan export: [1/2] loading the network'
"""

import sys
import time


class Progress:
    """Counts `done` of `total` units of one command."""

    def __init__(self, command, total, unit, stream=None, min_interval=1.0):
        self.prefix = f"keras-stylegan {command}: "
        self.total, self.unit = int(total), unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval
        self._last = None

    def update(self, done):
        now = time.monotonic()
        final = done >= self.total
        if not (final or self._last is None or now - self._last >= self.min_interval):
            return
        self._last = now
        text = f"{self.prefix}{done}/{self.total} {self.unit}"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class Steps:
    """Numbered steps of one command: `keras-stylegan export: [2/3] converting`."""

    def __init__(self, command, total, stream=None):
        self.prefix = f"keras-stylegan {command}: "
        self.total, self.done = int(total), 0
        self.stream = stream if stream is not None else sys.stderr

    def step(self, text):
        self.done += 1
        self.stream.write(f"{self.prefix}[{self.done}/{self.total}] {text}\n")
        self.stream.flush()
