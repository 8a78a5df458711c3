"""A FastAPI + uvicorn server speaking TF Serving's REST protocol over our exports.

Serves every version of every model under a base folder (`BASE/NAME/VERSION/`
holding a SavedModel or a `model.tflite`), or a single `.tflite` file. See
`export.rest` for the protocol; the extra `GET .../image` endpoint returns a
PNG (one image, or a grid for several seeds), `GET .../mix` a style-mixing
PNG (`export.mixing`), `GET /v1/models` the models served, and `/` the style
explorer's web page (`export.explorer`).

Bounds (the server's guarantee; every refusal is a 4xx/503 with a JSON
`{"error": ...}` body, client mistakes are not logged as errors):

* work per request: at most `max_batch` samples or images (a mixing figure
  counts its sources too); seed, class and layer ranges are counted before
  anything is expanded; numbers are ASCII only;
* body: a declared `Content-Length` over `max_request_bytes` gets 413 before
  anything is read; by default the limit is the size of the largest
  legitimate `:predict` request (`request_budget`), and the JSON arrays and
  strings a body may hold are bounded too, so decoding costs at most about
  12x the limit; bodies are decoded inside a model slot;
* concurrency: `max_inflight` requests decode and run at once, `max_queue`
  wait (beyond: 503, retry);
* slow clients (`export.http_guard`): a request head must arrive within
  `header_timeout` seconds, its body within `body_timeout` (else 408 and the
  connection closes); at most `max_connections` connections, and when all
  are taken the client that has waited longest is dropped, so idle or
  half-sent requests cannot lock others out.

Example:

>>> repo = ModelRepository.load("models")                 # doctest: +SKIP
>>> server = make_server(repo, port=8501, limits=Limits(max_batch=16))  # doctest: +SKIP
>>> server.run()          # uvicorn + the guarded protocol     # doctest: +SKIP
"""

import io
import logging
import os
import re
import time
from dataclasses import dataclass

import numpy as np

from keras_stylegan.errors import NetworkFileError
from keras_stylegan.export import explorer, mixing, rest
from keras_stylegan.export.rest import (  # noqa: F401 (re-exported: callers import them from here)
    MAX_PARAM_CHARS, SEED_BOUND, RestError, SignatureSpec, TensorInfo, expand_ranges,
    parse_ranges, range_count)

log = logging.getLogger("keras_stylegan.serve")
NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class Limits:
    """Request and concurrency bounds of the server (see the module docstring).

    `max_request_bytes=None` sizes the body limit from the models served:
    `request_budget`. Timeouts are in seconds.
    """
    max_batch: int = 32
    max_request_bytes: int = None
    max_inflight: int = 2
    max_queue: int = 64
    max_connections: int = 128
    header_timeout: float = 10.0
    body_timeout: float = 30.0


@dataclass(frozen=True)
class RequestBudget:
    """What a `:predict` body may hold: bytes, and JSON arrays/objects and strings.

    The counts bound the memory of decoding (a 3-byte `[],` becomes a 64-byte
    list): `containers` and `strings` are those of the largest legitimate
    request, None when a signature has dimensions of unknown size.
    """
    max_bytes: int
    containers: int = None
    strings: int = None

    def check(self, body):
        """RestError(400) if `body` holds more arrays/objects or strings than allowed."""
        if self.containers is not None:
            n = body.count(b"[") + body.count(b"{")
            if n > self.containers:
                raise RestError(400, f"The request holds {n} JSON arrays/objects; the largest "
                                f"request this server's signatures take has {self.containers}")
        if self.strings is not None and body.count(b'"') > 2 * self.strings:
            raise RestError(400, "The request holds more JSON strings than any request this "
                            "server's signatures take")


NUMBER_BYTES = 40  # room per number: json.dumps of float32 values, also with indent=2
FALLBACK_REQUEST_BYTES = 32 * 2 ** 20  # when a signature has dimensions of unknown size


def request_budget(repo, max_batch, max_bytes=None):
    """The `RequestBudget` of the largest legitimate `:predict` request to `repo`.

    Per sample: every input's numbers at `NUMBER_BYTES` each, its key and
    brackets; times `max_batch`, plus 64 KiB. `max_bytes` overrides the size.
    """
    per_sample, containers, strings = 0, 0, 0
    for servable in (s for versions in repo.models.values() for s in versions.values()):
        for sig in servable.signatures.values():
            dims = [info.shape[1:] for info in sig.inputs.values()]
            if any(d is None for shape in dims for d in shape):
                return RequestBudget(max_bytes or FALLBACK_REQUEST_BYTES)
            numbers = sum(int(np.prod(shape)) for shape in dims)
            keys = sum(len(k) + 16 for k in sig.inputs)
            per_sample = max(per_sample, numbers * NUMBER_BYTES + keys)
            # row format: an object per row, nested lists per input (columnar: fewer)
            containers = max(containers, 1 + sum(int(np.prod(shape[:-1])) + 1 for shape in dims))
            strings = max(strings, len(sig.inputs))
    return RequestBudget(max_bytes or max_batch * per_sample + 65536,
                         max_batch * containers + 16, max_batch * strings + 16)


# Servables --------------------------------------------------------------------------------------

class SavedModelServable:
    """One version of an exported SavedModel."""

    kind = "savedmodel"

    def __init__(self, name, version, path):
        import tensorflow as tf

        self.name, self.version, self.path = name, version, path
        self.model = tf.saved_model.load(path)
        functions, signatures = {}, {}
        for key, fn in self.model.signatures.items():
            _, ins = fn.structured_input_signature
            inputs = {k: TensorInfo(np.dtype(s.dtype.as_numpy_dtype), tuple(s.shape.as_list()))
                      for k, s in ins.items()}
            outputs = {k: TensorInfo(np.dtype(s.dtype.as_numpy_dtype), tuple(s.shape.as_list()))
                       for k, s in fn.structured_outputs.items()}
            functions[key] = fn
            signatures[key] = SignatureSpec(key, inputs, outputs)
        self._set_signatures(functions, signatures)

    def _set_signatures(self, functions, signatures):
        """`functions` {name: callable(**tensors) -> {name: tensor}}, described by `signatures`."""
        self.functions, self.signatures = functions, signatures
        gen = self.signatures.get("generate_const") or self.signatures.get(
            rest.DEFAULT_SIGNATURE)
        self.z_dim = gen.inputs["z"].shape[1] if gen and "z" in gen.inputs else None
        self.label_size = gen.inputs["labels"].shape[1] if gen and "labels" in gen.inputs else 0
        self.noise_modes = tuple(m for m, sig in (("seed", "generate"),
                                                  ("const", "generate_const"))
                                 if sig in self.signatures)

    def predict(self, signature, inputs):
        import tensorflow as tf
        fn, spec = self.functions[signature], self.signatures[signature].inputs
        feed = {k: tf.constant(v, dtype=tf.as_dtype(spec[k].dtype)) for k, v in inputs.items()}
        try:
            out = fn(**feed)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
            raise RestError(400, f"{type(e).__name__}: {e}") from None
        return {k: v.numpy() for k, v in out.items()}

    def images(self, z, psi, labels, seeds, noise):
        inputs = {"z": z, "truncation_psi": psi}
        if labels is not None:
            inputs["labels"] = labels
        if noise == "seed":
            inputs["seed"] = seeds
        return self.predict("generate" if noise == "seed" else "generate_const", inputs)["images"]

    def warm_up(self):
        """Runs the default signature once on batch 1 (the first call is slow)."""
        sig = self.signatures.get(rest.DEFAULT_SIGNATURE)
        if sig is None:
            return
        feed = {k: np.zeros([1] + [d for d in t.shape[1:]], t.dtype)
                for k, t in sig.inputs.items()}
        if all(None not in t.shape[1:] for t in sig.inputs.values()):
            self.predict(rest.DEFAULT_SIGNATURE, feed)


class TFLiteServable:
    """A `.tflite` generator behind the same interface (one signature, any batch).

    The model's noise-map inputs (if exported with `--noise input`) are
    replaced by a `seed` input and filled from the seeds, as the SavedModel's
    `generate` signature does.
    """

    kind = "tflite"

    def __init__(self, name, version, path, num_threads=None):
        from keras_stylegan.export.tflite import TFLiteGenerator

        self.name, self.version, self.path = name, version, path
        self.gen = TFLiteGenerator(path, num_threads=num_threads)
        g = self.gen
        inputs = {"z": TensorInfo(np.dtype("float32"), (None, g.z_dim)),
                  "truncation_psi": TensorInfo(np.dtype("float32"), (None,))}
        if g.label_size:
            inputs["labels"] = TensorInfo(np.dtype("float32"), (None, g.label_size))
        if g.noise_from_seed:
            inputs["seed"] = TensorInfo(np.dtype("int64"), (None,))
        shape = (None, g.resolution, g.resolution, g.num_channels)
        outputs = {"images": TensorInfo(np.dtype("uint8"), shape),
                   "images_float": TensorInfo(np.dtype("float32"), shape)}
        self.signatures = {rest.DEFAULT_SIGNATURE: SignatureSpec(
            rest.DEFAULT_SIGNATURE, inputs, outputs)}
        self.z_dim, self.label_size = g.z_dim, g.label_size
        self.noise_modes = ("seed",) if g.noise_from_seed else ("const",)

    def predict(self, signature, inputs):
        floats, u8 = self.gen(inputs["z"], inputs["truncation_psi"], inputs.get("labels"),
                              inputs.get("seed"))
        return {"images": u8, "images_float": floats}

    def images(self, z, psi, labels, seeds, noise):
        return self.predict(rest.DEFAULT_SIGNATURE, {"z": z, "truncation_psi": psi,
                                                     "labels": labels, "seed": seeds})["images"]

    def warm_up(self):
        pass  # LiteRT has no first-call compilation


# Repository -------------------------------------------------------------------------------------

class ModelRepository:
    """name -> {version: servable}, plus the versions that failed to load."""

    def __init__(self):
        self.models = {}
        self.failed = {}  # name -> {version: error text}

    @classmethod
    def load(cls, base_path, model_name=None, warm_up=True, num_threads=None):
        """Loads every version found under `base_path`.

        `base_path` is one of: a folder of models (`BASE/NAME/VERSION/`), a
        single model's folder (`BASE/VERSION/`, TF Serving's
        --model_base_path; named `model_name` or the folder's name), or a
        `.tflite` file (version 1, named `model_name` or the file's stem).
        With `model_name` and a folder of models, only that model is loaded.
        """
        repo = cls()
        base_path = os.path.abspath(base_path)
        if os.path.isfile(base_path):
            if not base_path.endswith(".tflite"):
                raise NetworkFileError(f"{base_path} is a file but not a .tflite model")
            name = model_name or _sanitize(os.path.splitext(os.path.basename(base_path))[0])
            repo._add(name, 1, lambda: TFLiteServable(name, 1, base_path, num_threads), warm_up)
            return repo
        if not os.path.isdir(base_path):
            raise FileNotFoundError(f"No such model base path: {base_path}")
        if _versions(base_path):
            name = model_name or _sanitize(os.path.basename(base_path))
            repo._load_model(name, base_path, warm_up, num_threads)
        else:
            for entry in sorted(os.listdir(base_path)):
                folder = os.path.join(base_path, entry)
                if entry.startswith(".") or not os.path.isdir(folder) or not _versions(folder):
                    continue
                if model_name is None or entry == model_name:
                    repo._load_model(entry, folder, warm_up, num_threads)
        if not repo.models and not repo.failed:
            what = f"model {model_name!r}" if model_name else "models"
            raise FileNotFoundError(
                f"No {what} under {base_path}: expected NAME/VERSION/ folders holding a "
                "SavedModel (from `keras-stylegan export`) or a model.tflite")
        return repo

    def _load_model(self, name, folder, warm_up, num_threads):
        for version in _versions(folder):
            path = os.path.join(folder, str(version))
            if os.path.isfile(os.path.join(path, "saved_model.pb")):
                factory = lambda p=path, v=version: SavedModelServable(name, v, p)  # noqa: E731
            elif os.path.isfile(os.path.join(path, "model.tflite")):
                factory = lambda p=path, v=version: TFLiteServable(  # noqa: E731
                    name, v, os.path.join(p, "model.tflite"), num_threads)
            else:
                self.failed.setdefault(name, {})[version] = (
                    f"{path} holds neither saved_model.pb nor model.tflite")
                continue
            self._add(name, version, factory, warm_up)

    def _add(self, name, version, factory, warm_up):
        t0 = time.time()
        try:
            servable = factory()
            if warm_up:
                servable.warm_up()
        except Exception as e:  # a broken version must not stop the others
            log.error("failed to load %s version %s: %s", name, version, e)
            self.failed.setdefault(name, {})[version] = f"{type(e).__name__}: {e}"
            return
        self.models.setdefault(name, {})[version] = servable
        log.info("loaded %s version %s (%s) in %.1fs", name, version, servable.kind,
                 time.time() - t0)

    def add_servable(self, servable, warm_up=True):
        """Adds an already built servable (e.g. an in-process `GeneratorServable`)."""
        self._add(servable.name, servable.version, lambda: servable, warm_up)
        error = self.failed.get(servable.name, {}).get(servable.version)
        if error:  # warming it up failed
            raise NetworkFileError(f"{servable.name} does not run: {error}")
        return self

    def names(self):
        return sorted(set(self.models) | set(self.failed))

    def get(self, name, version=None):
        """The servable for (name, version or latest); RestError(404) if there is none."""
        versions = self.models.get(name, {})
        if version is None:
            if not versions:
                raise RestError(404, f"Servable not found for request: Latest({name})")
            return versions[max(versions)]
        if version not in versions:
            raise RestError(404, f"Servable not found for request: Specific({name}, {version})")
        return versions[version]

    def status(self, name, version=None):
        """[(version, error or None)], newest first; RestError(404) if unknown."""
        ok = {v: None for v in self.models.get(name, {})}
        rows = {**self.failed.get(name, {}), **ok}
        if version is not None:
            if version not in rows:
                raise RestError(404, f"Could not find version {version} of model {name}")
            rows = {version: rows[version]}
        if not rows:
            raise RestError(404, f"Could not find any versions of model {name}")
        return sorted(rows.items(), reverse=True)


def describe(servable):
    """What the explorer page needs to know of a servable (JSON-able)."""
    gen = servable.signatures.get("generate_const") or servable.signatures.get(
        rest.DEFAULT_SIGNATURE)
    shape = gen.outputs["images"].shape if gen and "images" in gen.outputs else None
    try:
        num_ws = mixing.check_mixing(servable)
    except RestError:
        num_ws = None
    return {"name": servable.name, "version": servable.version, "kind": servable.kind,
            "resolution": shape[1] if shape else None,
            "channels": shape[3] if shape else None,
            "z_dim": servable.z_dim, "label_size": servable.label_size,
            "noise_modes": list(servable.noise_modes), "num_ws": num_ws,
            "style_presets": mixing.style_presets(num_ws) if num_ws else None}


def _versions(folder):
    return sorted(int(d) for d in os.listdir(folder)
                  if rest.ASCII_DIGITS.fullmatch(d) and os.path.isdir(os.path.join(folder, d)))


def _sanitize(name):
    return NAME_CHARS.sub("_", name) or "model"


# Images -----------------------------------------------------------------------------------------

def parse_image_query(query, servable, max_batch):
    """Query parameters of `GET .../image` -> (seeds, psi, labels, noise, cols).

    `seeds` and `class` take ranges ('0-7,12'), counted before anything is
    expanded: seeds x classes images, at most `max_batch`. With several
    classes every seed is drawn for each class (as `generate --class 0-4`),
    and the grid has one row per class unless `cols` says otherwise.
    """
    from keras_stylegan.generate import seed_class_plan

    allowed = {"seeds", "psi", "class", "labels", "noise", "cols"}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise RestError(400, f"Unknown query parameter(s) {unknown}; expected {sorted(allowed)}")
    seed_ranges = parse_ranges(query.get("seeds", "0"), "seed")
    if max(hi for _, hi in seed_ranges) >= SEED_BOUND:
        raise RestError(400, "Seeds must be below 2**32 (NumPy's RandomState)")
    class_ranges = None
    if "class" in query:
        if not servable.label_size:
            raise RestError(400, "The model is not conditional: drop 'class' and 'labels'")
        class_ranges = parse_ranges(query["class"], "class")
        top = max(hi for _, hi in class_ranges)
        if top >= servable.label_size:
            raise RestError(400, f"class must be in [0, {servable.label_size - 1}] (ranges "
                            f"such as 0-{servable.label_size - 1} allowed); received {top}")
    n_seeds = range_count(seed_ranges)
    n_classes = range_count(class_ranges) if class_ranges else 1
    if n_seeds * n_classes > max_batch:  # before expanding: '0-0000004000000000' allocates nothing
        raise RestError(400, f"{n_seeds} seeds x {n_classes} class(es) = {n_seeds * n_classes} "
                        f"images exceed this server's limit of {max_batch} images per request "
                        "(--max-batch)")
    seeds = expand_ranges(seed_ranges)
    psi = rest.parse_float(query["psi"], "psi") if "psi" in query else 1.0
    noise = query.get("noise", servable.noise_modes[0])
    if noise not in ("seed", "const"):
        raise RestError(400, f"noise must be 'seed' or 'const'; received {noise!r}")
    if noise not in servable.noise_modes:
        raise RestError(400, f"This model supports noise={' or '.join(servable.noise_modes)} "
                        f"only; received {noise!r}")
    labels, cols = None, None
    if class_ranges:
        if "labels" in query:
            raise RestError(400, "Pass 'class' or 'labels', not both")
        seeds, labels, _ = seed_class_plan(seeds, expand_ranges(class_ranges),
                                           servable.label_size)
        cols = n_seeds if n_classes > 1 else None  # a row per class
    elif servable.label_size:
        labels = _labels_param(query, servable.label_size, len(seeds))
    elif "labels" in query:
        raise RestError(400, "The model is not conditional: drop 'class' and 'labels'")
    if "cols" in query:
        cols = rest.parse_int(query["cols"], "cols", lo=1, hi=len(seeds))
    return seeds, psi, labels, noise, cols


def _labels_param(query, size, n):
    if "labels" not in query:
        raise RestError(400, f"The model is conditional ({size} classes): pass class=K, a "
                        f"range class=0-{size - 1} (a grid row per class) or "
                        f"labels=v1,...,v{size}")
    text = query["labels"]
    parts = text.split(",") if len(text) <= MAX_PARAM_CHARS else []
    if len(parts) != size:
        raise RestError(400, f"labels must have {size} comma-separated numbers; received "
                        f"{len(parts) if parts else 'too many'}")
    vec = np.array([rest.parse_float(t, "each label") for t in parts], np.float32)
    return np.tile(vec[None], [n, 1])


def encode_png(images, cols=None):
    """uint8 NHWC -> PNG bytes of the single image, or of a grid of all of them."""
    from PIL import Image
    from keras_stylegan.generate import image_grid

    img = images[0] if len(images) == 1 else image_grid(images, cols)
    if img.shape[-1] == 1:
        img = img[..., 0]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# The app ----------------------------------------------------------------------------------------

class BodyGuard:
    """ASGI middleware: a declared body over `max_bytes` gets a JSON 413 before anything is
    read, and a response sent before the request body was read closes the connection (so
    the rest of the body is never waited for)."""

    def __init__(self, app, max_bytes):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = int(headers.get(b"content-length", b"0"))  # h11 has checked it is [0-9]+
        if length > self.max_bytes:
            return await self._reply(send, 413, f"Request body of {length} bytes "
                                     f"exceeds this server's limit of {self.max_bytes} bytes "
                                     "(--max-request-bytes)")
        unread = [b"transfer-encoding" in headers or length > 0]

        async def tracked_receive():
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                unread[0] = False
            return message

        async def closing_send(message):
            if message["type"] == "http.response.start" and unread[0]:
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"connection", b"close")]}
            await send(message)

        await self.app(scope, tracked_receive, closing_send)

    @staticmethod
    async def _reply(send, status, message):
        body = rest.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def create_app(repo, limits=None):
    """The FastAPI application serving `repo` (a `ModelRepository`) within `limits`."""
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect

    from keras_stylegan.generate import latents_from_seeds

    limits = limits or Limits()
    budget = request_budget(repo, limits.max_batch, limits.max_request_bytes)
    app = FastAPI(title="keras-stylegan serving", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.add_middleware(BodyGuard, max_bytes=budget.max_bytes)
    compute = anyio.CapacityLimiter(limits.max_inflight)
    state = {"pending": 0}  # requests running or waiting for a model slot
    app.state.load, app.state.limits, app.state.budget = state, limits, budget

    def json_response(obj, status=200):
        return Response(rest.dumps(obj), status_code=status, media_type="application/json")

    async def run_model(fn, *args):
        """Runs `fn` in a worker thread: `max_inflight` at once, up to `max_queue` waiting."""
        if state["pending"] >= limits.max_inflight + limits.max_queue:
            raise RestError(503, f"Server busy: {state['pending']} requests pending "
                            "(--max-queue); retry later")
        state["pending"] += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=compute)
        finally:
            state["pending"] -= 1

    async def read_body(request):
        """The body, at most `budget.max_bytes` (a declared larger one never gets here)."""
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > budget.max_bytes:  # chunked: no Content-Length to refuse up front
                raise RestError(413, f"Request body exceeds this server's limit of "
                                f"{budget.max_bytes} bytes (--max-request-bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        return json_response({"error": str(exc.detail)}, exc.status_code)

    @app.exception_handler(RestError)
    async def rest_error(request, exc):
        return json_response(exc.body(), exc.status)

    @app.api_route("/v1/models/{path:path}", methods=["GET", "POST"])
    async def models(path: str, request: Request):
        try:
            mp = rest.parse_model_path(path)
            method = request.method
            if mp.kind == "verb":
                if method != "POST":
                    raise RestError(405, f"Use POST for :{mp.verb}")
                if mp.verb != "predict":
                    raise RestError(400, f"Unsupported method :{mp.verb} (this server "
                                    "supports :predict)")
                return await predict(mp, request)
            if method != "GET":
                raise RestError(405, f"Use GET for {request.url.path}")
            if mp.kind == "status":
                return json_response(rest.status_response(repo.status(mp.name, mp.version)))
            servable = repo.get(mp.name, mp.version)
            if mp.kind == "metadata":
                return json_response(rest.metadata_response(
                    mp.name, servable.version, servable.signatures))
            if mp.kind == "mix":
                return await mix(servable, request)
            return await image(servable, request)
        except RestError as e:
            return json_response(e.body(), e.status)
        except ClientDisconnect:  # the client left (or was timed out): nobody to answer
            log.debug("client left during %s %s", request.method, request.url.path)
            return Response(status_code=400)
        except Exception as e:  # a bug: keep serving; say what went wrong
            log.exception("internal error on %s %s", request.method, request.url.path)
            return json_response({"error": f"Internal error: {type(e).__name__}: {e}"}, 500)

    async def predict(mp, request):
        servable = repo.get(mp.name, mp.version)
        body = await read_body(request)

        def decode_run_encode():  # all in one model slot: decoding memory is counted too
            budget.check(body)
            obj = rest.parse_json(body)
            name = rest.request_signature_name(obj)
            if name not in servable.signatures:
                raise RestError(400, f'Serving signature name: "{name}" not found in '
                                "signature def")
            inputs, rows = rest.decode_predict(obj, servable.signatures[name],
                                               limits.max_batch)
            del obj
            return rest.dumps(rest.predict_response(servable.predict(name, inputs), rows))

        return Response(await run_model(decode_run_encode), media_type="application/json")

    async def image(servable, request):
        if servable.z_dim is None:
            raise RestError(400, "This model has no generate signature")
        seeds, psi, labels, noise, cols = parse_image_query(
            dict(request.query_params), servable, limits.max_batch)
        z = latents_from_seeds(seeds, servable.z_dim)
        n = len(seeds)
        images = await run_model(servable.images, z, np.full([n], psi, np.float32), labels,
                                 np.asarray(seeds, np.int64), noise)
        png = await anyio.to_thread.run_sync(encode_png, images, cols)
        return Response(png, media_type="image/png")

    async def mix(servable, request):
        plan = mixing.parse_mix_query(dict(request.query_params), servable, limits.max_batch)
        grid = await run_model(mixing.mix_image, servable, plan)
        png = await anyio.to_thread.run_sync(encode_png, grid[None])
        return Response(png, media_type="image/png")

    @app.get("/v1/models")
    async def model_list():
        return json_response({
            "models": [describe(s) for versions in repo.models.values()
                       for s in [versions[max(versions)]]],
            "failed": {n: {str(v): e for v, e in d.items()} for n, d in repo.failed.items()},
            "limits": {"max_batch": limits.max_batch},
            "api": "/v1/models/NAME[/versions/V][/metadata|:predict|/image|/mix]"})

    page = explorer.assets()

    @app.get("/")
    async def explorer_index():
        return await explorer_page(explorer.INDEX)

    @app.get("/{asset}")
    async def explorer_page(asset: str):
        if asset not in page.files:
            raise RestError(404, f"Not found: /{asset} (the explorer is at /, the models at "
                            "/v1/models)")
        body, media_type = page.files[asset]
        return Response(body, media_type=media_type, headers=page.headers)

    return app


def make_server(repo, host="127.0.0.1", port=8501, limits=None, access_log=False):
    """A `uvicorn.Server` for `repo` (call `.run()`; set `.should_exit` to stop it)."""
    import uvicorn

    from keras_stylegan.export.http_guard import guarded_protocol

    limits = limits or Limits()
    app = create_app(repo, limits)
    protocol = guarded_protocol(limits.header_timeout, limits.body_timeout,
                                limits.max_connections)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", http=protocol,
                            access_log=access_log, limit_concurrency=None,
                            timeout_keep_alive=5, h11_max_incomplete_event_size=64 * 1024)
    return uvicorn.Server(config)


def serve(repo, host="127.0.0.1", port=8501, limits=None, access_log=False, sock=None):
    """Runs the server until interrupted (SIGINT / SIGTERM); on `sock` (a bound socket,
    e.g. from `bind_socket`) if given, else on host:port."""
    make_server(repo, host, port, limits, access_log).run(sockets=[sock] if sock else None)


def bind_socket(host, port, backlog=128):
    """A listening TCP socket on (host, port) (port 0: any free one), for `serve(sock=)`:
    clients that connect before the server runs wait to be answered.

    OSError if the address is taken or not this machine's.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
