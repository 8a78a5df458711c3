"""TFLite / LiteRT export of a `Generator`, builtin ops only, and a runner for it.

The `.tflite` model has one signature, `serving_default`, with a batch size
and resolution fixed at export:

* inputs `z` [B, z_dim], `labels` [B, L] (conditional networks only),
  `truncation_psi` [B], and with `noise="input"` one `noise_<i>` [B, H, W, 1]
  per noise layer;
* outputs `images` (uint8 NHWC, NVIDIA's rounding) and `images_float`
  (float32 NHWC in [-1, 1]).

`noise="const"` bakes the network's stored noise maps into the model
(NVIDIA's `randomize_noise=False`); `noise="input"` takes them as inputs, and
`TFLiteGenerator` fills them from per-sample seeds with `export.noise`, so a
seed gives the same image as the SavedModel's `generate` signature. StyleGAN2
is exported with the non-fused modulated convolution (the grouped one needs
Flex ops, which the pip interpreters cannot run).

Quantization: None (float32), 'float16' (float16 weights, float32 compute)
or 'dynamic' (int8 weights, dynamic-range activations). Gate each variant by
PSNR against the float model: dynamic range is much less exact for
StyleGAN1's instance norm than for StyleGAN2's demodulation.

Example:

>>> from keras_stylegan import presets
>>> from keras_stylegan.export.tflite import convert, TFLiteGenerator
>>> G = presets.generator("stylegan2-tiny-32")
>>> open("g.tflite", "wb").write(convert(G, batch=2))      # doctest: +SKIP
>>> gen = TFLiteGenerator("g.tflite")                      # doctest: +SKIP
>>> floats, uint8 = gen(z, truncation_psi=0.7)             # doctest: +SKIP
"""

import os
import re
import threading

import numpy as np

from keras_stylegan.export.noise import seed_noise_np
from keras_stylegan.export.savedmodel import GraphFunctions
from keras_stylegan.networks.common import as_fp32, num_fp16_res
from keras_stylegan.networks.generator import DEFAULT
from keras_stylegan import files
from keras_stylegan.errors import ConfigError, NetworkFileError

QUANTIZE = (None, "float16", "dynamic")
NOISE = ("const", "input")
SIGNATURE = "serving_default"
NOISE_INPUT = re.compile(r"noise_(\d+)")


def _check(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{name} must be one of {choices}; received {value!r}.")
    return value


def convert(G, batch=1, quantize=None, noise="const", truncation_cutoff=DEFAULT):
    """Converts `G` to a builtins-only TFLite flatbuffer; returns its bytes.

    Args:
        G: a `Generator`.
        batch: the fixed batch size.
        quantize: None, 'float16' or 'dynamic'.
        noise: 'const' (stored maps baked in) or 'input' (noise maps are inputs).
        truncation_cutoff: style layers truncation affects ('default': G's own).

    StyleGAN2 float16 blocks (`num_fp16_res`, e.g. stylegan3-repo pickles)
    are converted in float32: TFLite builtins have no float16 arithmetic
    (`quantize='float16'` stores the weights in float16 instead).
    """
    import tensorflow as tf

    if num_fp16_res(G):
        G = as_fp32(G)
    _check("quantize", quantize, QUANTIZE)
    _check("noise", noise, NOISE)
    batch = int(batch)
    if batch < 1:
        raise ConfigError(f"batch must be >= 1; received {batch}.")
    f = GraphFunctions(G, truncation_cutoff, fused_modconv=False)
    specs = [tf.TensorSpec([batch, G.z_dim], tf.float32, name="z")]
    if G.label_size:
        specs.append(tf.TensorSpec([batch, G.label_size], tf.float32, name="labels"))
    specs.append(tf.TensorSpec([batch], tf.float32, name="truncation_psi"))
    if noise == "input":
        specs += [tf.TensorSpec([batch, h, w, 1], tf.float32, name=f"noise_{i}")
                  for i, (h, w) in enumerate(G.synthesis.noise_shapes)]

    def run(*args):
        named = {s.name: a for s, a in zip(specs, args)}
        ws = f.ws(named["z"], named["truncation_psi"], named.get("labels"))
        maps = None
        if noise == "input":
            maps = [named[f"noise_{i}"] for i in range(len(G.synthesis.noise_shapes))]
        return f.images(ws, noise=maps)

    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = tf.function(run, input_signature=specs, autograph=False).get_concrete_function()
    # Freeze the weights into constants: variables would become READ_VARIABLE ops
    # that the interpreter cannot initialise from a concrete function.
    frozen = convert_variables_to_constants_v2(concrete)
    out_names = sorted(concrete.structured_outputs)  # the order of the flat outputs

    def named(*args):  # freezing flattens the outputs: name them again
        return dict(zip(out_names, frozen(*args)))

    named = tf.function(named, input_signature=specs, autograph=False).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([named], tf.Module())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    quiet = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")
    try:
        model = converter.convert()
    finally:
        tf.get_logger().setLevel(quiet)
    if quantize == "float16":
        model = float16_weights(model)
    return model


def float16_weights(model, min_elements=1024):
    """Stores the large float32 constants of a .tflite as float16 + DEQUANTIZE.

    The same layout as the converter's float16 quantization, except that
    constants with fewer than `min_elements` values (epsilons, biases,
    scales) and values float16 cannot hold stay float32: the converter also
    converts the `1e-8` of instance / pixel norm, which float16 rounds to 0,
    and then `0 * rsqrt(0)` turns constant feature maps (a fresh network, a
    zero z) into NaN.
    """
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    m = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    deq = fb.BuiltinOperator.DEQUANTIZE
    opcode = next((i for i, c in enumerate(m.operatorCodes)
                   if max(c.builtinCode, c.deprecatedBuiltinCode) == deq), None)
    if opcode is None:
        code = fb.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = deq
        m.operatorCodes.append(code)
        opcode = len(m.operatorCodes) - 1
    m.operatorCodes[opcode].version = max(m.operatorCodes[opcode].version, 3)  # fp16 input
    half_buffers = {}  # float32 buffer index -> float16 buffer index
    for sg in m.subgraphs:
        dequantize = []
        for index, t in enumerate(sg.tensors):
            buf = m.buffers[t.buffer] if t.buffer else None
            if t.type != fb.TensorType.FLOAT32 or buf is None or buf.data is None:
                continue
            values = np.frombuffer(bytes(bytearray(buf.data)), np.float32)
            if values.size < min_elements:
                continue
            half = values.astype(np.float16)
            if not np.all(np.isfinite(half)):
                continue
            if t.buffer not in half_buffers:
                hb = fb.BufferT()
                hb.data = np.frombuffer(half.tobytes(), np.uint8)
                m.buffers.append(hb)
                half_buffers[t.buffer] = len(m.buffers) - 1
            t16 = fb.TensorT()
            t16.shape, t16.type = t.shape, fb.TensorType.FLOAT16
            t16.buffer = half_buffers[t.buffer]
            t16.name = (t.name or b"") + b"_fp16" if isinstance(t.name, bytes) else \
                f"{t.name or ''}_fp16"
            sg.tensors.append(t16)
            t.buffer = 0  # now computed: the output of DEQUANTIZE
            op = fb.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = opcode, [len(sg.tensors) - 1], [index]
            dequantize.append(op)
        sg.operators = dequantize + list(sg.operators)
    # Drop the float32 copies no tensor uses any more.
    used = {t.buffer for sg in m.subgraphs for t in sg.tensors}
    for i in half_buffers:
        if i not in used:
            m.buffers[i].data = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def export_tflite(G, out, name="stylegan", version=None, **kwargs):
    """Writes a `.tflite` atomically; returns its path.

    `out` ending in `.tflite` is the file itself; otherwise it is a model base
    folder and the file is `out/name/version/model.tflite` (the layout
    `keras-stylegan serve` reads). kwargs go to `convert`.
    """
    from keras_stylegan.export.savedmodel import atomic_directory, check_name, resolve_version

    data = convert(G, **kwargs)
    if out.endswith(".tflite"):
        _write_file_atomic(data, out)
        return out
    model_dir = os.path.join(out, check_name(name))
    final = os.path.join(model_dir, str(resolve_version(model_dir, version)))
    with atomic_directory(final, "the TFLite model") as tmp:
        with open(os.path.join(tmp, "model.tflite"), "wb") as fh:
            fh.write(data)
    return os.path.join(final, "model.tflite")


def _write_file_atomic(data, out):
    """Writes bytes to `out` through a hidden temporary + rename; cleans stale ones.

    Removes the temporaries of killed writes of `out`: `.tmp-pidPID-...-NAME`
    and (older versions) `.NAME.tmp-PID`, of processes that no longer run.
    """
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(out)
    old_style = re.compile(rf"^\.{re.escape(base)}\.tmp-(\d+)$")
    for name in os.listdir(folder):
        match = old_style.match(name)
        if match and files.is_stale(f".tmp-pid{match[1]}-"):
            files.remove_path(os.path.join(folder, name))
    with files.atomic_file(out, "the TFLite model",
                           "Nothing was replaced: free space and export again.") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def psnr_vs_generator(G, model_path=None, model_content=None, num_samples=4,
                      truncation_psi=0.7):
    """PSNR (dB, images in [-1, 1]) of a .tflite against the Keras generator `G`.

    Seeds 0..num_samples-1 (z as NVIDIA makes it, one-hot labels cycling
    through the classes); stored noise, or the seeds' noise for a model that
    takes noise maps as inputs.
    """
    from keras_stylegan.generate import latents_from_seeds
    gen = TFLiteGenerator(model_path, model_content)
    seeds = np.arange(num_samples)
    z = latents_from_seeds(seeds, G.z_dim)
    labels = None
    if G.label_size:
        labels = np.eye(G.label_size, dtype=np.float32)[seeds % G.label_size]
    floats, _ = gen(z, truncation_psi, labels, seeds)
    kwargs = {"labels": labels} if labels is not None else {}
    if gen.noise_from_seed:
        kwargs["noise"] = seed_noise_np(seeds, G.synthesis.noise_shapes)
    else:
        kwargs["noise_mode"] = "const"
    ref = np.asarray(G(z, truncation_psi=truncation_psi, **kwargs), np.float64)
    mse = float(np.mean((floats.astype(np.float64) - ref) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(4.0 / mse))


def make_interpreter(model_path=None, model_content=None, num_threads=None):
    """An `ai_edge_litert` interpreter (with a clear error when it is missing)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise ImportError(
            "Running .tflite models needs LiteRT: pip install ai-edge-litert") from e
    try:
        return Interpreter(model_path=model_path, model_content=model_content,
                           num_threads=num_threads)
    except ValueError as e:  # LiteRT's error for a file that is not a valid model
        raise NetworkFileError(f"{model_path or 'the model'} is not a valid .tflite "
                               f"model ({e}); export one with `keras-stylegan export "
                               "--format tflite`.") from None


class TFLiteGenerator:
    """Runs an exported `.tflite` generator on any number of samples.

    Batches are split into the model's fixed batch size (the last one padded).
    Calls are serialized with a lock: one interpreter is not thread-safe.

    Args:
        model_path / model_content: the `.tflite` file or its bytes.
        num_threads: interpreter threads (None: LiteRT's default).
    """

    def __init__(self, model_path=None, model_content=None, num_threads=None):
        self.path = model_path
        self.interpreter = make_interpreter(model_path, model_content, num_threads)
        sigs = self.interpreter.get_signature_list()
        if SIGNATURE not in sigs:
            raise NetworkFileError(f"{model_path or 'the model'} has no '{SIGNATURE}' signature; "
                                   "export it with `keras-stylegan export --format tflite`.")
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)
        self.inputs = {k: (tuple(int(d) for d in v["shape"]), np.dtype(v["dtype"]))
                       for k, v in self.runner.get_input_details().items()}
        self.outputs = {k: (tuple(int(d) for d in v["shape"]), np.dtype(v["dtype"]))
                        for k, v in self.runner.get_output_details().items()}
        for key in ("z", "truncation_psi"):
            if key not in self.inputs:
                raise NetworkFileError(f"{model_path or 'the model'} is not a keras-stylegan "
                                       f"generator: it has no input {key!r}.")
        self.batch = self.inputs["z"][0][0]
        self.z_dim = self.inputs["z"][0][1]
        self.label_size = self.inputs["labels"][0][1] if "labels" in self.inputs else 0
        noise = sorted((int(NOISE_INPUT.fullmatch(k).group(1)), k)
                       for k in self.inputs if NOISE_INPUT.fullmatch(k))
        self.noise_inputs = [k for _, k in noise]
        self.noise_shapes = [self.inputs[k][0][1:3] for k in self.noise_inputs]
        self.resolution = self.outputs["images"][0][1]
        self.num_channels = self.outputs["images"][0][3]
        self._lock = threading.Lock()

    @property
    def noise_from_seed(self):
        """True when noise maps are inputs (filled from seeds); False: stored maps."""
        return bool(self.noise_inputs)

    def __call__(self, z, truncation_psi=1.0, labels=None, seeds=None):
        """z [N, z_dim] -> (float32 images, uint8 images), NHWC NumPy.

        `truncation_psi`: scalar or [N]; `labels`: [N, L] for conditional
        models; `seeds`: [N] noise seeds, required when the model takes noise
        as inputs (ignored otherwise, where the stored maps are used).
        """
        z = np.asarray(z, np.float32).reshape(-1, self.z_dim)
        n = len(z)
        psi = np.broadcast_to(np.asarray(truncation_psi, np.float32), [n]).copy()
        if self.label_size:
            if labels is None:
                raise ValueError(f"The model is conditional: pass labels [N, {self.label_size}].")
            labels = np.asarray(labels, np.float32).reshape(n, self.label_size)
        if self.noise_inputs:
            if seeds is None:
                raise ValueError("The model takes noise maps as inputs: pass seeds.")
            seeds = np.asarray(seeds, np.int64).reshape(n)
        floats, u8 = [], []
        for i in range(0, n, self.batch):
            m = min(self.batch, n - i)
            feed = {"z": z[i:i + m], "truncation_psi": psi[i:i + m]}
            if self.label_size:
                feed["labels"] = labels[i:i + m]
            if self.noise_inputs:
                maps = seed_noise_np(seeds[i:i + m], self.noise_shapes)
                feed.update(zip(self.noise_inputs, maps))
            feed = {k: _pad(v, self.batch) for k, v in feed.items()}
            with self._lock:
                out = self.runner(**feed)
            floats.append(out["images_float"][:m])
            u8.append(out["images"][:m])
        shape = (0, self.resolution, self.resolution, self.num_channels)
        if not floats:
            return np.zeros(shape, np.float32), np.zeros(shape, np.uint8)
        return np.concatenate(floats), np.concatenate(u8)


def _pad(x, batch):
    x = np.asarray(x)
    if len(x) == batch:
        return np.ascontiguousarray(x)
    pad = np.zeros((batch - len(x),) + x.shape[1:], x.dtype)
    return np.concatenate([x, pad])
