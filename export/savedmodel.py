"""SavedModel export of a `Generator`, in TF Serving's `BASE/NAME/VERSION/` layout.

Signatures (every input has a batch dimension, so TF Serving's row format
`{"instances": [...]}` works; `labels` exists only for conditional networks):

| signature | inputs | outputs |
|---|---|---|
| `serving_default`, `generate` | `z`, `labels`, `truncation_psi`, `seed` | `images`, `images_float` |
| `generate_const` | `z`, `labels`, `truncation_psi` | as `generate` |
| `mapping` | `z`, `labels`, `truncation_psi` | `ws` [N, num_ws, w_dim] |
| `synthesis` | `ws`, `seed` | `images`, `images_float` |
| `synthesis_const` | `ws` | `images`, `images_float` |
| `mix` | `ws`, `ws2`, `crossover` [N] int32, `seed` | `images`, `images_float` |
| `mix_const` | `ws`, `ws2`, `crossover` | `images`, `images_float` |

Shapes: `z` [N, z_dim], `labels` [N, label_size], `truncation_psi` [N]
float32, `seed` [N] int64, `ws` / `ws2` [N, num_ws, w_dim], `crossover` [N]
int32; `images` uint8 [N, H, W, C], `images_float` float32 [N, H, W, C],
nominally in [-1, 1].

`seed` gives every sample its own noise maps, computed inside the graph by
`export.noise` (a stateless hash: the same seed gives the same image after a
restart, whatever else is in the batch). The `*_const` signatures use the
network's stored noise maps, NVIDIA's `randomize_noise=False`: with a legacy
pickle they reproduce NVIDIA's outputs. `mapping` truncates towards the
tracked average w (`truncation_psi=1` returns the raw mapping output);
`mix` takes layers `< crossover` from `ws` and the rest from `ws2`. The
truncation cutoff (how many style layers truncation affects) is fixed at
export. Images are NHWC; `images` uses NVIDIA's uint8 rounding. StyleGAN2 is
exported with non-fused modulated convolutions unless asked otherwise (see
`export_savedmodel`).

Example:

>>> from keras_stylegan import presets
>>> from keras_stylegan.export.savedmodel import export_savedmodel
>>> G = presets.generator("stylegan-tiny-32")
>>> path = export_savedmodel(G, "models", name="tiny")   # doctest: +SKIP
>>> path                                                 # doctest: +SKIP
'models/tiny/1'
"""

import contextlib
import json
import os
import re
import shutil

import numpy as np

from keras_stylegan.export.noise import seed_noise_tf
from keras_stylegan import files
from keras_stylegan.errors import ConfigError
from keras_stylegan.networks.generator import DEFAULT

METADATA_FILE = os.path.join("assets.extra", "keras_stylegan.json")
FORMAT_VERSION = 1
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


# Layout and atomic writes -----------------------------------------------------------------

def check_name(name):
    """A model name usable as a folder and in TF Serving URLs."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"Model name must match {NAME_RE.pattern} (letters, digits, '_', '.', '-'); "
            f"received {name!r}.")
    return name


def existing_versions(model_dir):
    """Sorted integer versions (sub-folders named by an integer) under `model_dir`."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir)
                  if d.isdigit() and os.path.isdir(os.path.join(model_dir, d)))


def resolve_version(model_dir, version=None):
    """`version` checked not to exist yet; None: one above the highest existing (or 1)."""
    versions = existing_versions(model_dir)
    if version is None:
        return (versions[-1] + 1) if versions else 1
    version = int(version)
    if version < 0:
        raise ConfigError(f"--version must be a non-negative integer; received {version}.")
    if version in versions:
        raise FileExistsError(
            f"{os.path.join(model_dir, str(version))} already exists; TF Serving versions are "
            "immutable: pick another --version or leave it out to use the next one.")
    return version


@contextlib.contextmanager
def atomic_directory(final_path, what="the export"):
    """Yields a temp folder beside `final_path`; renames it there on success.

    On any error the temp folder is removed, so `final_path` either does not
    exist or is complete; a failed write (a full disk) is one
    `keras_stylegan.files.WriteError`. The temp name (`.tmp-pidPID-...`) is
    hidden and not an integer, so TF Serving (and our server) never mistake
    it for a version; the temp folders of killed exports are removed first.
    """
    parent = os.path.dirname(os.path.abspath(final_path))
    os.makedirs(parent, exist_ok=True)
    files.remove_stale(parent)
    # Mode 0777 - umask: mkdtemp's 0700 would hide it from a serving user.
    tmp = files.new_temp_dir(parent, os.path.basename(final_path))
    try:
        with files.write_errors(what, final_path,
                                "Nothing was written there: free space and export again."):
            yield tmp
        os.rename(tmp, final_path)  # atomic; fails if final_path appeared meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def generator_metadata(G, truncation_cutoff, **extra):
    """JSON-able description of an exported generator."""
    import keras_stylegan
    return {
        "format": "keras_stylegan", "format_version": FORMAT_VERSION,
        "keras_stylegan_version": keras_stylegan.__version__,
        "family": G.family, "resolution": G.resolution, "num_channels": G.num_channels,
        "z_dim": G.z_dim, "w_dim": G.w_dim, "label_size": G.label_size,
        "num_ws": G.num_ws, "truncation_cutoff": truncation_cutoff,
        "noise_shapes": [list(s) for s in G.synthesis.noise_shapes], **extra,
    }


def resolve_cutoff(G, truncation_cutoff=DEFAULT):
    """The number of truncated style layers (None = all) for `truncation_cutoff`."""
    if truncation_cutoff == DEFAULT:
        return G.truncation_cutoff
    if truncation_cutoff is None:
        return None
    cutoff = int(truncation_cutoff)
    if cutoff < 0:
        raise ConfigError(f"truncation cutoff must be >= 0; received {cutoff}.")
    return cutoff


# Graph functions -----------------------------------------------------------------------------

def synthesis_kwargs(G, fused_modconv=None):
    """Extra synthesis arguments: `fused_modconv` for StyleGAN2 when given."""
    if G.family == "stylegan2" and fused_modconv is not None:
        return {"fused_modconv": bool(fused_modconv)}
    return {}


class GraphFunctions:
    """The Python functions behind every signature, closed over a `Generator`.

    Shared by the SavedModel and TFLite exports.
    """

    def __init__(self, G, truncation_cutoff=DEFAULT, fused_modconv=None):
        self.G = G
        self.cutoff = resolve_cutoff(G, truncation_cutoff)
        self.synth_kwargs = synthesis_kwargs(G, fused_modconv)

    def ws(self, z, truncation_psi, labels=None):
        G = self.G
        ws = G.mapping(z, labels=labels)
        return G.truncate(ws, truncation_psi, self.cutoff)

    def images(self, ws, seed=None, noise=None):
        """ws -> {'images': uint8, 'images_float': float32}; noise: seed, maps, or stored."""
        import tensorflow as tf

        from keras_stylegan.ops.basic import to_uint8_tensor
        G = self.G
        if seed is not None:
            noise = seed_noise_tf(seed, G.synthesis.noise_shapes)
        if noise is not None:
            img = G.synthesis(ws, noise=list(noise), **self.synth_kwargs)
        else:
            img = G.synthesis(ws, noise_mode="const", **self.synth_kwargs)
        img = tf.cast(img, tf.float32)
        return {"images": to_uint8_tensor(img), "images_float": tf.identity(img)}

    def mix_ws(self, ws, ws2, crossover):
        return self.G.mix_styles(ws, ws2, crossover)


def input_specs(G):
    """name -> tf.TensorSpec of every signature input (batch dimension None)."""
    import tensorflow as tf
    return {
        "z": tf.TensorSpec([None, G.z_dim], tf.float32, name="z"),
        "labels": tf.TensorSpec([None, G.label_size], tf.float32, name="labels"),
        "truncation_psi": tf.TensorSpec([None], tf.float32, name="truncation_psi"),
        "seed": tf.TensorSpec([None], tf.int64, name="seed"),
        "ws": tf.TensorSpec([None, G.num_ws, G.w_dim], tf.float32, name="ws"),
        "ws2": tf.TensorSpec([None, G.num_ws, G.w_dim], tf.float32, name="ws2"),
        "crossover": tf.TensorSpec([None], tf.int32, name="crossover"),
    }


def signature_functions(G, truncation_cutoff=DEFAULT, fused_modconv=None):
    """name -> (python function, [input names]) for every exported signature."""
    f = GraphFunctions(G, truncation_cutoff, fused_modconv)
    cond = G.label_size > 0

    if cond:
        def generate(z, labels, truncation_psi, seed):
            return f.images(f.ws(z, truncation_psi, labels), seed=seed)

        def generate_const(z, labels, truncation_psi):
            return f.images(f.ws(z, truncation_psi, labels))

        def mapping(z, labels, truncation_psi):
            return {"ws": f.ws(z, truncation_psi, labels)}
        latent_inputs = ["z", "labels"]
    else:
        def generate(z, truncation_psi, seed):
            return f.images(f.ws(z, truncation_psi), seed=seed)

        def generate_const(z, truncation_psi):
            return f.images(f.ws(z, truncation_psi))

        def mapping(z, truncation_psi):
            return {"ws": f.ws(z, truncation_psi)}
        latent_inputs = ["z"]

    def synthesis(ws, seed):
        return f.images(ws, seed=seed)

    def synthesis_const(ws):
        return f.images(ws)

    def mix(ws, ws2, crossover, seed):
        return f.images(f.mix_ws(ws, ws2, crossover), seed=seed)

    def mix_const(ws, ws2, crossover):
        return f.images(f.mix_ws(ws, ws2, crossover))

    gen_inputs = latent_inputs + ["truncation_psi"]
    return {
        "generate": (generate, gen_inputs + ["seed"]),
        "generate_const": (generate_const, gen_inputs),
        "mapping": (mapping, gen_inputs),
        "synthesis": (synthesis, ["ws", "seed"]),
        "synthesis_const": (synthesis_const, ["ws"]),
        "mix": (mix, ["ws", "ws2", "crossover", "seed"]),
        "mix_const": (mix_const, ["ws", "ws2", "crossover"]),
    }


SIGNATURES = ("serving_default", "generate", "generate_const", "mapping", "synthesis",
              "synthesis_const", "mix", "mix_const")


# Export ----------------------------------------------------------------------------------------

def write_savedmodel(G, path, truncation_cutoff=DEFAULT, fused_modconv=False, source=None):
    """Writes `G` as a SavedModel into folder `path` (new or empty), with `SIGNATURES`."""
    import keras
    import tensorflow as tf

    specs = input_specs(G)
    # No `archive.track(G)`: it would save every weight twice (as Keras variables and
    # as the TF variables the endpoints use); the endpoints' variables are enough.
    archive = keras.export.ExportArchive()
    fns = signature_functions(G, truncation_cutoff, fused_modconv)
    quiet = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # Keras's grouped conv warns about retracing
    try:
        for name, (fn, inputs) in fns.items():
            archive.add_endpoint(name, fn, input_signature=[specs[i] for i in inputs])
        gen, inputs = fns["generate"]
        archive.add_endpoint("serving_default", gen,
                             input_signature=[specs[i] for i in inputs])
        archive.write_out(path, verbose=False)
    finally:
        tf.get_logger().setLevel(quiet)
    meta = generator_metadata(G, resolve_cutoff(G, truncation_cutoff), source=source,
                              signatures=list(SIGNATURES))
    os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
    with open(os.path.join(path, METADATA_FILE), "w") as f:
        json.dump(meta, f, indent=1)
    return path


def export_savedmodel(G, out_dir, name="stylegan", version=None, truncation_cutoff=DEFAULT,
                      fused_modconv=False, source=None):
    """Exports `G` to `out_dir/name/version/` atomically; returns that path.

    Args:
        G: a `Generator`.
        out_dir: the model base folder (TF Serving's `--model_base_path` parent).
        name: the model name (a folder).
        version: an integer that must not exist yet; None = the next one.
        truncation_cutoff: style layers truncation affects ('default': the
            generator's own; None: all).
        fused_modconv: StyleGAN2 only: False (default) runs the modulated
            convolutions non-fused: plain convs, 2-3x faster on CPU, no XLA.
            True uses NVIDIA's grouped conv, which Keras compiles with XLA on
            CPU (recompiled for every new batch size; a TF Serving build
            without XLA cannot run it); None: the network's own default.
            Both give the same numbers (~1e-6).
        source: free text recorded in the metadata (e.g. the network file).
    """
    model_dir = os.path.join(out_dir, check_name(name))
    version = resolve_version(model_dir, version)
    final = os.path.join(model_dir, str(version))
    with atomic_directory(final, "the SavedModel") as tmp:
        write_savedmodel(G, tmp, truncation_cutoff, fused_modconv, source)
    return final


def read_metadata(path):
    """The `keras_stylegan.json` of an exported SavedModel (a dict), or None;
    `NetworkFileError` when it is not one small JSON object."""
    from keras_stylegan.errors import NetworkFileError
    from keras_stylegan.json_file import read_json_object
    meta = os.path.join(path, METADATA_FILE)
    if not os.path.isfile(meta):
        return None
    return read_json_object(meta, "the metadata of a SavedModel written by keras-stylegan "
                            "export", error=NetworkFileError)


def load(path):
    """`tf.saved_model.load(path)`."""
    import tensorflow as tf
    return tf.saved_model.load(path)


def call_signature(loaded, name, **inputs):
    """Calls signature `name` with NumPy inputs; returns a dict of NumPy outputs."""
    import tensorflow as tf
    fn = loaded.signatures[name]
    _, spec = fn.structured_input_signature
    feed = {k: tf.constant(np.asarray(v), dtype=spec[k].dtype) for k, v in inputs.items()}
    return {k: v.numpy() for k, v in fn(**feed).items()}
