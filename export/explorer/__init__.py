"""The style explorer: a web page (plain HTML, CSS and JavaScript) that the server shows at `/`.

The files beside this module are package data (setup.py's `package_data`):
nothing is fetched from elsewhere, so the page works offline, and its
Content-Security-Policy forbids loading anything from another origin. The
page talks to the server only through its public endpoints: `GET
/v1/models` (the models), `.../image` (PNG per seed) and `.../mix` (the
style-mixing figure).

Example:

>>> page = assets()
>>> sorted(page.files)
['explorer.css', 'explorer.js', 'index.html']
>>> page.files["index.html"][1]
'text/html; charset=utf-8'
"""

import os
from dataclasses import dataclass

INDEX = "index.html"
FILES = {INDEX: "text/html; charset=utf-8",
         "explorer.js": "text/javascript; charset=utf-8",
         "explorer.css": "text/css; charset=utf-8"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Assets:
    """`files`: {name: (bytes, media type)}; `headers`: sent with each."""
    files: dict
    headers: dict


def assets(folder=None):
    """The page's files, read once; FileNotFoundError naming the fix if one is missing."""
    folder = folder or os.path.dirname(os.path.abspath(__file__))
    files = {}
    for name, media_type in FILES.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"The explorer page's {name} is missing from {folder}: keras-stylegan was "
                "installed without its package data; reinstall it (pip install .)")
        with open(path, "rb") as f:
            files[name] = (f.read(), media_type)
    return Assets(files, dict(HEADERS))
