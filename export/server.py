"""A FastAPI + uvicorn server speaking TF Serving's REST protocol over our exports.

Serves every version of every model under a base folder (`BASE/NAME/VERSION/`
holding a SavedModel or a `model.tflite`), or a single `.tflite` file. See
`export.rest` for the protocol; the extra `GET .../image` endpoint returns a
PNG (one image, or a grid for several seeds).

Bounds: at most `max_batch` samples per request, `max_request_bytes` per
body, `max_inflight` model calls at once (others wait), `max_queue` waiting
requests (beyond that: 503, retry), `max_connections` open connections
(uvicorn answers 503 beyond). Bad requests get a 4xx JSON error and the
server keeps serving.

Example:

>>> repo = ModelRepository.load("models")                 # doctest: +SKIP
>>> app = create_app(repo, Limits(max_batch=16))         # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8501)         # doctest: +SKIP
"""

import io
import logging
import math
import os
import re
import time
from dataclasses import dataclass

import numpy as np

from keras_stylegan.export import rest
from keras_stylegan.export.rest import RestError, SignatureSpec, TensorInfo

log = logging.getLogger("keras_stylegan.serve")
NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class Limits:
    """Request and concurrency bounds of the server."""
    max_batch: int = 32
    max_request_bytes: int = 32 * 2 ** 20
    max_inflight: int = 2
    max_queue: int = 64
    max_connections: int = 128


# Servables --------------------------------------------------------------------------------------

class SavedModelServable:
    """One version of an exported SavedModel."""

    kind = "savedmodel"

    def __init__(self, name, version, path):
        import tensorflow as tf

        self.name, self.version, self.path = name, version, path
        self.model = tf.saved_model.load(path)
        self.signatures = {}
        for key, fn in self.model.signatures.items():
            _, ins = fn.structured_input_signature
            inputs = {k: TensorInfo(np.dtype(s.dtype.as_numpy_dtype), tuple(s.shape.as_list()))
                      for k, s in ins.items()}
            outputs = {k: TensorInfo(np.dtype(s.dtype.as_numpy_dtype), tuple(s.shape.as_list()))
                       for k, s in fn.structured_outputs.items()}
            self.signatures[key] = SignatureSpec(key, inputs, outputs)
        gen = self.signatures.get("generate_const") or self.signatures.get(
            rest.DEFAULT_SIGNATURE)
        self.z_dim = gen.inputs["z"].shape[1] if gen and "z" in gen.inputs else None
        self.label_size = gen.inputs["labels"].shape[1] if gen and "labels" in gen.inputs else 0
        self.noise_modes = tuple(m for m, sig in (("seed", "generate"),
                                                  ("const", "generate_const"))
                                 if sig in self.signatures)

    def predict(self, signature, inputs):
        import tensorflow as tf
        fn = self.model.signatures[signature]
        _, spec = fn.structured_input_signature
        feed = {k: tf.constant(v, dtype=spec[k].dtype) for k, v in inputs.items()}
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
                raise ValueError(f"{base_path} is a file but not a .tflite model")
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


def _versions(folder):
    return sorted(int(d) for d in os.listdir(folder)
                  if d.isdigit() and os.path.isdir(os.path.join(folder, d)))


def _sanitize(name):
    return NAME_CHARS.sub("_", name) or "model"


# Images -----------------------------------------------------------------------------------------

def parse_image_query(query, servable, max_batch):
    """Query parameters of `GET .../image` -> (seeds, psi, labels, noise, cols)."""
    from keras_stylegan.generate import parse_seeds

    allowed = {"seeds", "psi", "class", "labels", "noise", "cols"}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise RestError(400, f"Unknown query parameter(s) {unknown}; expected {sorted(allowed)}")
    text = query.get("seeds", "0")
    count = _count_seeds(text)  # before expanding: '0-4000000000' must not allocate
    if count > max_batch:
        raise RestError(400, f"{count} seeds exceed this server's limit of {max_batch} "
                        "images per request (--max-batch)")
    try:
        seeds = parse_seeds(text)
    except ValueError as e:
        raise RestError(400, str(e)) from None
    if not seeds:
        raise RestError(400, "No seeds given")
    if len(seeds) > max_batch:
        raise RestError(400, f"{len(seeds)} seeds exceed this server's limit of {max_batch} "
                        "images per request (--max-batch)")
    if max(seeds) >= 2 ** 32:
        raise RestError(400, "Seeds must be below 2**32 (NumPy's RandomState)")
    psi = _float_param(query, "psi", 1.0)
    noise = query.get("noise", servable.noise_modes[0])
    if noise not in ("seed", "const"):
        raise RestError(400, f"noise must be 'seed' or 'const'; received {noise!r}")
    if noise not in servable.noise_modes:
        raise RestError(400, f"This model supports noise={' or '.join(servable.noise_modes)} "
                        f"only; received {noise!r}")
    labels = None
    if servable.label_size:
        labels = _labels_param(query, servable.label_size, len(seeds))
    elif "class" in query or "labels" in query:
        raise RestError(400, "The model is not conditional: drop 'class' and 'labels'")
    cols = query.get("cols")
    if cols is not None:
        if not cols.isdigit() or not 1 <= int(cols) <= len(seeds):
            raise RestError(400, f"cols must be an integer in [1, {len(seeds)}]")
        cols = int(cols)
    return seeds, psi, labels, noise, cols


def _count_seeds(text):
    """How many seeds '0-7,12' names (0 if malformed: parse_seeds then says why)."""
    if len(text) > 1000:
        raise RestError(400, "The seeds parameter is too long")
    total = 0
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d{1,20})(?:-(\d{1,20}))?\s*", part)
        if m:
            total += max(0, int(m.group(2) or m.group(1)) - int(m.group(1)) + 1)
    return total


def _float_param(query, key, default):
    text = query.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise RestError(400, f"{key} must be a number; received {text!r}") from None
    if not math.isfinite(value):
        raise RestError(400, f"{key} must be finite; received {text!r}")
    return value


def _labels_param(query, size, n):
    if "class" in query and "labels" in query:
        raise RestError(400, "Pass 'class' or 'labels', not both")
    if "class" in query:
        text = query["class"]
        if not text.isdigit() or int(text) >= size:
            raise RestError(400, f"class must be an integer in [0, {size - 1}]; received {text!r}")
        labels = np.zeros([n, size], np.float32)
        labels[:, int(text)] = 1
        return labels
    if "labels" in query:
        try:
            vec = np.array([float(t) for t in query["labels"].split(",")], np.float32)
        except ValueError:
            raise RestError(400, "labels must be comma-separated numbers") from None
        if vec.shape != (size,) or not np.all(np.isfinite(vec)):
            raise RestError(400, f"labels must have {size} finite values; received {vec.size}")
        return np.tile(vec[None], [n, 1])
    raise RestError(400, f"The model is conditional ({size} classes): pass class=K or "
                    f"labels=v1,...,v{size}")


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

def create_app(repo, limits=None):
    """The FastAPI application serving `repo` (a `ModelRepository`) within `limits`."""
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from keras_stylegan.generate import latents_from_seeds

    limits = limits or Limits()
    app = FastAPI(title="keras-stylegan serving", docs_url=None, redoc_url=None,
                  openapi_url=None)
    compute = anyio.CapacityLimiter(limits.max_inflight)
    state = {"pending": 0}  # model calls running or waiting
    app.state.load = state
    app.state.limits = limits

    def json_response(obj, status=200):
        return Response(rest.dumps(obj), status_code=status, media_type="application/json")

    def error(e):
        return json_response(e.body(), e.status)

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
        length = request.headers.get("content-length")
        limit = limits.max_request_bytes
        if length is not None and (not length.isdigit()):
            raise RestError(400, "Bad Content-Length header")
        too_big = length is not None and int(length) > limit
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                too_big = True
                if size > 4 * limit:  # stop draining; the connection will close
                    break
                continue
            chunks.append(chunk)
        if too_big:
            raise RestError(413, f"Request body of {length or size} bytes exceeds this "
                            f"server's limit of {limit} bytes (--max-request-bytes)")
        return b"".join(chunks)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        return json_response({"error": str(exc.detail)}, exc.status_code)

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
            return await image(servable, request)
        except RestError as e:
            return error(e)
        except Exception as e:  # keep serving; say what went wrong
            log.exception("internal error on %s %s", request.method, request.url.path)
            return json_response({"error": f"Internal error: {type(e).__name__}: {e}"}, 500)

    async def predict(mp, request):
        servable = repo.get(mp.name, mp.version)
        body = await read_body(request)

        def decode():
            obj = rest.parse_json(body)
            name = rest.request_signature_name(obj)
            if name not in servable.signatures:
                raise RestError(400, f'Serving signature name: "{name}" not found in '
                                "signature def")
            inputs, rows = rest.decode_predict(obj, servable.signatures[name],
                                               limits.max_batch)
            return name, inputs, rows

        name, inputs, rows = await anyio.to_thread.run_sync(decode)
        outputs = await run_model(servable.predict, name, inputs)
        text = await anyio.to_thread.run_sync(
            lambda: rest.dumps(rest.predict_response(outputs, rows)))
        return Response(text, media_type="application/json")

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

    @app.get("/")
    async def root():
        return json_response({"models": repo.names(), "api": "/v1/models/NAME[/versions/V]"
                              "[/metadata|:predict|/image]"})

    return app


def make_server(repo, host="127.0.0.1", port=8501, limits=None, access_log=False):
    """A `uvicorn.Server` for `repo` (call `.run()`; set `.should_exit` to stop it)."""
    import uvicorn

    limits = limits or Limits()
    app = create_app(repo, limits)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            access_log=access_log, limit_concurrency=limits.max_connections,
                            timeout_keep_alive=5, h11_max_incomplete_event_size=64 * 1024)
    return uvicorn.Server(config)


def serve(repo, host="127.0.0.1", port=8501, limits=None, access_log=False):
    """Runs the server until interrupted (SIGINT / SIGTERM)."""
    make_server(repo, host, port, limits, access_log).run()
