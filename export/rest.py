"""TF Serving's REST protocol, framework-free: URL parsing, request decoding, responses.

Follows https://www.tensorflow.org/tfx/serving/api_rest so that clients can
switch between `keras-stylegan serve` and TF Serving unchanged:

* `GET  /v1/models/NAME[/versions/V]`           model version status
* `GET  /v1/models/NAME[/versions/V]/metadata`  signature defs
* `POST /v1/models/NAME[/versions/V]:predict`   `{"signature_name": ..., "instances": [...]}`
  (row format, answered with `{"predictions": ...}`) or `{"inputs": ...}`
  (columnar, answered with `{"outputs": ...}`)
* errors: `{"error": "..."}` with an HTTP error status.

Our extensions (not in TF Serving): `GET .../image?seeds=0-3&psi=0.7` -> PNG,
`GET .../mix?rows=0-2&cols=3-5&styles=coarse` -> a style-mixing PNG.
"""

import json
import re
from dataclasses import dataclass, field

import numpy as np

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"

DTYPE_NAMES = {
    np.dtype("float32"): "DT_FLOAT", np.dtype("float64"): "DT_DOUBLE",
    np.dtype("float16"): "DT_HALF", np.dtype("int64"): "DT_INT64",
    np.dtype("int32"): "DT_INT32", np.dtype("uint8"): "DT_UINT8",
    np.dtype("int8"): "DT_INT8", np.dtype("bool"): "DT_BOOL",
}

ASCII_DIGITS = re.compile(r"[0-9]+")  # not str.isdigit() or \d: they accept "²", "١"
ASCII_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_NUMBER_CHARS = 64
MAX_PARAM_CHARS = 1000  # a seeds/class/labels/styles parameter longer than this is refused
SEED_BOUND = 2 ** 32  # NumPy's RandomState takes seeds below 2**32
RANGES_RE = re.compile(r"([0-9]+)(?:-([0-9]+))?")  # ASCII only: \d also matches '١'

PATH_RE = re.compile(
    r"(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
    r"(?:(?P<metadata>/metadata)|(?P<image>/image)|(?P<mix>/mix)|:(?P<verb>[A-Za-z]+))?")


class RestError(Exception):
    """An error answered as `{"error": message}` with HTTP `status`."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = int(status)
        self.message = str(message)

    def body(self):
        return {"error": self.message}


@dataclass(frozen=True)
class TensorInfo:
    """dtype (NumPy) and shape (None for unknown dims; dim 0 is the batch)."""
    dtype: np.dtype
    shape: tuple

    def shape_text(self):
        return "[" + ", ".join("-1" if d is None else str(d) for d in self.shape) + "]"

    def to_json(self, name, prefix):
        dims = [{"size": str(-1 if d is None else d), "name": ""} for d in self.shape]
        return {"dtype": DTYPE_NAMES.get(np.dtype(self.dtype), "DT_INVALID"),
                "tensor_shape": {"dim": dims, "unknown_rank": False},
                "name": f"{prefix}_{name}:0"}


@dataclass
class SignatureSpec:
    """A signature's named inputs and outputs."""
    name: str
    inputs: dict
    outputs: dict
    method_name: str = field(default=PREDICT_METHOD)

    def to_json(self):
        return {"inputs": {k: v.to_json(k, self.name) for k, v in sorted(self.inputs.items())},
                "outputs": {k: v.to_json(k, "StatefulPartitionedCall")
                            for k, v in sorted(self.outputs.items())},
                "method_name": self.method_name}


@dataclass(frozen=True)
class ModelPath:
    """A parsed `/v1/models/...` path."""
    name: str
    version: int = None  # None: the latest version
    kind: str = "status"  # 'status', 'metadata', 'image', 'mix' or 'verb'
    verb: str = None


def parse_model_path(path):
    """Parses the part of the URL after `/v1/models/`; raises RestError(404) if malformed."""
    m = PATH_RE.fullmatch(path)
    if not m:
        raise RestError(404, f"Malformed request: /v1/models/{path}")
    version = m.group("version")
    if version is not None:
        version = parse_int(version, "version in URL", hi=2 ** 63 - 1)
    if m.group("metadata"):
        kind, verb = "metadata", None
    elif m.group("image"):
        kind, verb = "image", None
    elif m.group("mix"):
        kind, verb = "mix", None
    elif m.group("verb"):
        kind, verb = "verb", m.group("verb")
    else:
        kind, verb = "status", None
    return ModelPath(m.group("name"), version, kind, verb)


def parse_int(text, name, lo=0, hi=2 ** 63 - 1):
    """An integer in [lo, hi] written in ASCII digits; RestError(400) naming `name` if not.

    >>> parse_int("007", "cols")
    7
    >>> try:
    ...     parse_int("²", "cols")  # str.isdigit() is True, int() fails
    ... except RestError as e:
    ...     print(e.status)
    400
    """
    digits = text.lstrip("0") if isinstance(text, str) else ""
    if (not isinstance(text, str) or not ASCII_DIGITS.fullmatch(text)
            or len(digits) > len(str(hi)) or not lo <= int(digits or "0") <= hi):
        raise RestError(400, f"{name} must be an integer in [{lo}, {hi}] written with the "
                        f"digits 0-9; received {_clip(text)!r}")
    return int(digits or "0")


def parse_float(text, name):
    """A finite number written in ASCII (float() would also take '١.٥' and '1_0')."""
    if not isinstance(text, str) or len(text) > MAX_NUMBER_CHARS \
            or not ASCII_FLOAT.fullmatch(text.strip()):
        raise RestError(400, f"{name} must be a number written with the digits 0-9 "
                        f"(e.g. 0.7); received {_clip(text)!r}")
    value = float(text)
    if not np.isfinite(value):
        raise RestError(400, f"{name} must be finite; received {_clip(text)!r}")
    return value


def parse_ranges(text, name):
    """'0-7,12' -> [(0, 7), (12, 12)], checked but not expanded; RestError(400) if malformed.

    ASCII digits only; the same syntax as `generate --seeds` (`parse_seeds`).

    >>> parse_ranges("0-3, 7", "seed")
    [(0, 3), (7, 7)]
    """
    if len(text) > MAX_PARAM_CHARS:
        raise RestError(400, f"The {name}s parameter is too long (over {MAX_PARAM_CHARS} "
                        "characters)")
    ranges = []
    for part in text.split(","):
        m = RANGES_RE.fullmatch(part.strip())
        if not m:
            raise RestError(400, f"Bad {name} range {_clip(part)!r}; use e.g. '0-7,12' "
                            "(digits 0-9)")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))  # <= 1000 digits: fast
        if hi < lo:
            raise RestError(400, f"Bad {name} range {part.strip()!r}: the end is below the start")
        ranges.append((lo, hi))
    return ranges


def range_count(ranges):
    """How many numbers `ranges` name (without expanding them)."""
    return sum(hi - lo + 1 for lo, hi in ranges)


def expand_ranges(ranges):
    return [v for lo, hi in ranges for v in range(lo, hi + 1)]


def _clip(text, n=40):
    text = str(text)
    return text if len(text) <= n else text[:n] + "..."


# Responses -------------------------------------------------------------------------------------

def status_response(versions):
    """`versions`: [(version, error or None)], newest first, as TF Serving's GetModelStatus."""
    out = []
    for version, error in versions:
        out.append({"version": str(version),
                    "state": "END" if error else "AVAILABLE",
                    "status": {"error_code": "UNKNOWN" if error else "OK",
                               "error_message": error or ""}})
    return {"model_version_status": out}


def metadata_response(name, version, signatures):
    """TF Serving's GetModelMetadata response for `signatures` ({name: SignatureSpec})."""
    return {"model_spec": {"name": name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": {
                "signature_def": {k: s.to_json() for k, s in sorted(signatures.items())}}}}


def predict_response(outputs, row_format):
    """`outputs` {name: array with batch dim} -> `{"predictions": ...}` or `{"outputs": ...}`."""
    names = sorted(outputs)
    if row_format:
        if len(names) == 1:
            return {"predictions": np.asarray(outputs[names[0]]).tolist()}
        lists = {k: np.asarray(outputs[k]).tolist() for k in names}
        n = len(lists[names[0]])
        return {"predictions": [{k: lists[k][i] for k in names} for i in range(n)]}
    if len(names) == 1:
        return {"outputs": np.asarray(outputs[names[0]]).tolist()}
    return {"outputs": {k: np.asarray(outputs[k]).tolist() for k in names}}


def dumps(obj):
    """Compact JSON (NaN/inf written as TF Serving does: NaN, Infinity)."""
    return json.dumps(obj, separators=(",", ":"))


# Requests --------------------------------------------------------------------------------------

def parse_json(body):
    """Request bytes -> a JSON object; RestError(400) if it is not one."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise RestError(400, f"JSON Parse error: {e}") from None
    if not isinstance(obj, dict):
        raise RestError(400, "JSON Value: the request body must be a JSON object, "
                        f"not {type(obj).__name__}")
    return obj


def request_signature_name(obj):
    name = obj.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(name, str):
        raise RestError(400, "'signature_name' must be a string")
    return name or DEFAULT_SIGNATURE


def decode_predict(obj, spec, max_batch):
    """A parsed `:predict` body -> ({input name: NumPy array}, row_format).

    Checks names, dtypes, shapes (every input has a batch dimension), that all
    inputs share the batch size, and that it is in [1, max_batch].
    """
    has_rows, has_cols = "instances" in obj, "inputs" in obj
    unknown = set(obj) - {"signature_name", "instances", "inputs"}
    if unknown:
        raise RestError(400, f"Unknown key(s) in the request: {sorted(unknown)}; expected "
                        "'signature_name' and one of 'instances' or 'inputs'")
    if has_rows == has_cols:
        raise RestError(400, "Missing 'instances' or 'inputs' key" if not has_rows else
                        "Request has both 'instances' and 'inputs'; use one of them")
    names = sorted(spec.inputs)
    if has_rows:
        rows = obj["instances"]
        if not isinstance(rows, list) or not rows:
            raise RestError(400, "'instances' must be a non-empty list")
        _check_batch(len(rows), max_batch)
        if len(names) == 1 and not all(isinstance(r, dict) for r in rows):
            columns = {names[0]: rows}
        else:
            columns = {k: [] for k in names}
            for i, row in enumerate(rows):
                if not isinstance(row, dict):
                    raise RestError(400, f"instances[{i}] must be an object with the keys "
                                    f"{names} (signature '{spec.name}')")
                _check_keys(row, names, spec.name, f"instances[{i}]")
                for k in names:
                    columns[k].append(row[k])
    else:
        cols = obj["inputs"]
        if len(names) == 1 and not isinstance(cols, dict):
            cols = {names[0]: cols}
        if not isinstance(cols, dict):
            raise RestError(400, f"'inputs' must be an object with the keys {names} "
                            f"(signature '{spec.name}')")
        _check_keys(cols, names, spec.name, "inputs")
        columns = cols
    arrays = {k: _to_array(k, columns[k], spec.inputs[k]) for k in names}
    batches = {k: a.shape[0] for k, a in arrays.items()}
    if len(set(batches.values())) > 1:
        raise RestError(400, f"All inputs must have the same batch size; received {batches}")
    _check_batch(next(iter(batches.values())), max_batch)
    return arrays, has_rows


def _check_keys(obj, names, signature, where):
    missing = [k for k in names if k not in obj]
    extra = sorted(set(obj) - set(names))
    if missing or extra:
        msg = f"{where} of signature '{signature}' needs the inputs {names}"
        if missing:
            msg += f"; missing {missing}"
        if extra:
            msg += f"; unknown {extra}"
        raise RestError(400, msg)


def _check_batch(n, max_batch):
    if n < 1:
        raise RestError(400, "The batch is empty")
    if n > max_batch:
        raise RestError(400, f"Batch size {n} exceeds this server's limit of {max_batch} "
                        "(--max-batch); split the request")


def _to_array(name, value, info):
    dtype = np.dtype(info.dtype)
    try:
        raw = np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError) as e:
        raise RestError(400, f"Input '{name}': not a rectangular numeric array ({e})") from None
    if raw.dtype == object or raw.dtype.kind not in "biuf":
        raise RestError(400, f"Input '{name}' must hold numbers of type "
                        f"{DTYPE_NAMES.get(dtype, dtype.name)}; received {raw.dtype.kind!r} "
                        "values (ragged lists, strings or nulls?)")
    if dtype.kind in "iu":
        if raw.dtype.kind == "f":
            if not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw)):
                raise RestError(400, f"Input '{name}' must hold integers")
        info_i = np.iinfo(dtype)
        if raw.size and (raw.min() < info_i.min or raw.max() > info_i.max):
            raise RestError(400, f"Input '{name}' is out of range for "
                            f"{DTYPE_NAMES.get(dtype, dtype.name)}")
    arr = raw.astype(dtype)
    want = info.shape
    if arr.ndim != len(want) or any(w is not None and w != a for w, a in zip(want, arr.shape)):
        raise RestError(400, f"Input '{name}' must have shape {info.shape_text()}; received "
                        f"{list(arr.shape)}")
    return arr
