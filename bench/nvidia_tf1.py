"""NVIDIA's TensorFlow 1 StyleGAN / StyleGAN2 code, timed on this machine's CPU.

The other side of issue 18's side-by-side table: runs one measurement spec of
`bench_targets.py` (kind `train` or `generate`, family `stylegan1` or
`stylegan2`, px, batch, warmup, steps) with NVIDIA's own network code under
TensorFlow 2's `tf.compat.v1` (graph mode, v2 behaviour off, TF1 `Dimension`
shapes; oneDNN kernels, TensorFlow's default thread pools) and prints one JSON
line {"images_per_s": ..., "sec": ..., ...} like bench_targets' own child.

What is NVIDIA's: the network files, loaded unchanged from the user's clones
by path:

* `stylegan/training/networks_stylegan.py` (G_style, G_mapping, G_synthesis,
  D_basic) from https://github.com/NVlabs/stylegan;
* `stylegan2/training/networks_stylegan2.py` (G_main, G_mapping,
  G_synthesis_stylegan2, D_stylegan2) and its ops
  `stylegan2/dnnlib/tflib/ops/upfirdn_2d.py` and `fused_bias_act.py` from
  https://github.com/NVlabs/stylegan2.

Nothing of NVIDIA's is in this repository (licence): get the clones with
  git clone https://github.com/NVlabs/stylegan DIR/stylegan
  git clone https://github.com/NVlabs/stylegan2 DIR/stylegan2
and pass `--nvidia DIR` (here or to bench_targets.py).

What is this harness' (written here, not copied):

* a stand-in for NVIDIA's `dnnlib` / `dnnlib.tflib` (whose own package needs
  Python < 3.8 bits and its job-submission machinery): `EasyDict`, a `Network`
  wrapper (a variable scope per network, a template graph built once to learn
  the input and output shapes, `get_output_for` reusing the variables,
  `find_var`, `vars` / `trainables`, `clone`, `setup_as_moving_average_of`),
  `lerp`, `lerp_clip`, `is_tf_expression`, and a `custom_ops` that refuses
  (the CUDA plugins are never used: the StyleGAN2 ops' `impl` defaults are
  switched from 'cuda' to 'ref', their standard-TensorFlow implementations);
* the training graph, written after NVIDIA's `training/loss.py` and
  `training/training_loop.py`: StyleGAN1 G_logistic_nonsaturating +
  D_logistic_simplegp (R1 gamma 10 every step); StyleGAN2
  G_logistic_ns_pathreg (weight 2, decay 0.01, pl minibatch shrink 2, every
  step) + D_logistic_r1 (gamma 10, every step: no lazy regularization, the
  regularizers added to the losses as NVIDIA's loop does then); each loss's
  own fakes; `tf.reduce_mean` of each loss; Adam (beta1 0, beta2 0.99, eps
  1e-8; lr 0.001 StyleGAN1, 0.002 StyleGAN2) with NVIDIA's
  skip-the-step-on-non-finite-gradients `tf.cond`; style mixing 0.9;
  W-average tracking; the Gs EMA (beta 0.5 ** (batch / 10000)). One step is
  NVIDIA's sess.run order: StyleGAN1 [D_train, Gs_update] then [G_train];
  StyleGAN2 [G_train] then [D_train, Gs_update]. Not reproduced: the dataset
  pipeline (reals are a fixed random [batch, 3, px, px] variable in [-1, 1]),
  autosummaries, snapshots and metrics.

Networks: training at `px` with fmap_base 2048, fmap_max 256, latent 512
(StyleGAN1 G_style / D_basic with structure 'fixed', the non-growing graph;
StyleGAN2 config-f's skip G / resnet D with non-fused modulated convolution,
as our side); generation with random weights of StyleGAN1 G_style at
NVIDIA's defaults (fmap_base 8192, the bedrooms / cats / FFHQ networks) and
StyleGAN2 config-f (fmap_base 16384, fused modulated convolution as NVIDIA's
default), `is_validation=True` (no truncation), stored noise.

Usage:
  python bench/nvidia_tf1.py --nvidia /work/nvidia \\
      --spec '{"kind": "train", "family": "stylegan1", "px": 32, "batch": 16, "warmup": 1, "steps": 2}'
"""

import argparse
import collections
import importlib.util
import inspect
import json
import os
import statistics
import sys
import time
import types

import numpy as np
from bench_targets import FMAPS  # the training channels, as our side uses them

NVIDIA_FILES = {
    "stylegan1": ("stylegan", ["training/networks_stylegan.py"],
                  "https://github.com/NVlabs/stylegan"),
    "stylegan2": ("stylegan2", ["training/networks_stylegan2.py",
                                "dnnlib/tflib/ops/upfirdn_2d.py",
                                "dnnlib/tflib/ops/fused_bias_act.py"],
                  "https://github.com/NVlabs/stylegan2"),
}
LRATE = {"stylegan1": 0.001, "stylegan2": 0.002}
ADAM = dict(beta1=0.0, beta2=0.99, epsilon=1e-8)
G_SMOOTHING_KIMG = 10.0
# G_synthesis' noise variables have shape [1, use_noise, res, res]; its default True
# (a bool dimension) is refused by TF 2.21's protobuf; 1 is the same network.
SG1_USE_NOISE = 1


class NvidiaCodeError(Exception):
    """NVIDIA's clone or one of its files is missing under --nvidia."""


# --------------------------------------------------------------------------- files
def nvidia_paths(root, family):
    """The paths of NVIDIA's files for `family` under `root`; one clear error if any is missing."""
    clone, files, url = NVIDIA_FILES[family]
    base = os.path.join(os.path.abspath(root), clone)
    if not os.path.isdir(base):
        raise NvidiaCodeError(
            f"{base} does not exist: --nvidia DIR must hold a clone of {url} as "
            f"DIR/{clone} (git clone {url} {base})")
    paths = [os.path.join(base, f) for f in files]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise NvidiaCodeError(
            f"{', '.join(missing)} missing: {base} should be an unmodified clone of {url}")
    return paths


# --------------------------------------------------------------------------- dnnlib stand-in
def _tf1():
    import tensorflow as tf
    return tf.compat.v1


class EasyDict(dict):
    """A dict whose items are also attributes (what NVIDIA's networks expect)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        del self[name]


def is_tf_expression(x):
    tf = _tf1()
    return isinstance(x, (tf.Tensor, tf.Variable, tf.Operation))


def lerp(a, b, t):
    return a + (b - a) * t


def lerp_clip(a, b, t):
    return a + (b - a) * _tf1().clip_by_value(t, 0.0, 1.0)


def _absolute_scope(scope, reuse):
    tf = _tf1()
    return tf.variable_scope(tf.VariableScope(name=scope, reuse=reuse),
                             auxiliary_name_scope=False)


class Network:
    """What NVIDIA's networks use of tflib.Network: one variable scope per network,
    a template graph (is_template_graph=True) that creates the variables and gives
    the shapes, then `get_output_for` graphs that reuse them."""

    def __init__(self, name, func_name, **static_kwargs):
        self.name = name
        self._build_func = func_name
        self.static_kwargs = EasyDict(static_kwargs)
        self.components = EasyDict()
        self._init_graph()
        sess = _tf1().get_default_session()
        if sess is not None:  # NVIDIA's reset_own_vars(): initialized when built
            sess.run([v.initializer for v in self.vars.values()
                      if v.name.startswith(self.scope + "/")])

    def _init_graph(self):
        tf = _tf1()
        params = inspect.signature(self._build_func).parameters.values()
        self.input_names = [p.name for p in params
                            if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
        with tf.name_scope(None):
            self.scope = tf.get_default_graph().unique_name(self.name, mark_as_used=True)
        kwargs = dict(self.static_kwargs, is_template_graph=True, components=self.components)
        with _absolute_scope(self.scope, False), tf.name_scope(self.scope + "/"):
            with tf.control_dependencies(None):
                self.input_templates = [tf.placeholder(tf.float32, name=n)
                                        for n in self.input_names]
                out = self._build_func(*self.input_templates, **kwargs)
        outs = [out] if is_tf_expression(out) else list(out)
        self.input_shapes = [t.shape.as_list() for t in self.input_templates]
        self.output_shapes = [t.shape.as_list() for t in outs]
        self.input_shape, self.output_shape = self.input_shapes[0], self.output_shapes[0]
        own = tf.global_variables(self.scope + "/")
        self.vars = collections.OrderedDict(
            (v.name[len(self.scope) + 1:].split(":")[0], v) for v in own)
        for comp in self.components.values():
            self.vars.update((comp.name + "/" + n, v) for n, v in comp.vars.items())
        self.trainables = collections.OrderedDict(
            (n, v) for n, v in self.vars.items() if v.trainable)

    def get_output_for(self, *in_expr, return_as_list=False, **dynamic_kwargs):
        tf = _tf1()
        kwargs = dict(self.static_kwargs)
        kwargs.update(dynamic_kwargs)
        kwargs.update(is_template_graph=False, components=self.components)
        with _absolute_scope(self.scope, True), tf.name_scope(self.name):
            first = next(e for e in in_expr if e is not None)
            inputs = [tf.identity(e, name=n) if e is not None else
                      tf.zeros([tf.shape(first)[0]] + s[1:], name=n)
                      for e, n, s in zip(in_expr, self.input_names, self.input_shapes)]
            out = self._build_func(*inputs, **kwargs)
        for e, f in zip(in_expr, inputs):
            if isinstance(e, tf.Tensor):
                e.set_shape(f.shape)
        if return_as_list:
            return [out] if is_tf_expression(out) else list(out)
        return out

    def find_var(self, name):
        return self.vars[name]

    def clone(self, name):
        """A copy with its own variables, set to this network's values (a session must
        be the default one, as with NVIDIA's clone)."""
        tf = _tf1()
        net = Network(name, self._build_func, **self.static_kwargs)
        sess = tf.get_default_session()
        sess.run([v.assign(self.vars[n]) for n, v in net.vars.items()])
        return net

    def setup_as_moving_average_of(self, src_net, beta=0.99, beta_nontrainable=0.0):
        tf = _tf1()
        with tf.name_scope(self.scope + "/_MovingAvg/"):
            ops = [tf.assign(var, lerp(src_net.vars[name], var,
                                       beta if name in self.trainables else beta_nontrainable))
                   for name, var in self.vars.items() if name in src_net.vars]
            return tf.group(*ops)


def _refuse_plugin(*_args, **_kwargs):
    raise RuntimeError("NVIDIA's CUDA plugins are not built here; the ops run with impl='ref'")


def install_dnnlib():
    """Puts the stand-in `dnnlib`, `dnnlib.util`, `dnnlib.tflib` (+ custom_ops, ops) in sys.modules."""
    def package(name, **attrs):
        mod = types.ModuleType(name)
        mod.__path__ = []
        mod.__dict__.update(attrs)
        sys.modules[name] = mod
        return mod
    util = package("dnnlib.util", EasyDict=EasyDict)
    custom_ops = package("dnnlib.tflib.custom_ops", get_plugin=_refuse_plugin)
    ops = package("dnnlib.tflib.ops")
    tflib = package("dnnlib.tflib", Network=Network, lerp=lerp, lerp_clip=lerp_clip,
                    is_tf_expression=is_tf_expression, custom_ops=custom_ops, ops=ops)
    package("dnnlib", EasyDict=EasyDict, util=util, tflib=tflib)


def _with_ref_impl(module):
    """Switches the `impl='cuda'` defaults of `module`'s functions to 'ref'."""
    for fn in vars(module).values():
        if inspect.isfunction(fn) and fn.__module__ == module.__name__ and fn.__defaults__:
            names = [p.name for p in inspect.signature(fn).parameters.values()
                     if p.default is not p.empty and p.kind == p.POSITIONAL_OR_KEYWORD]
            fn.__defaults__ = tuple("ref" if n == "impl" and d == "cuda" else d
                                    for n, d in zip(names, fn.__defaults__))


def _load(name, path):
    """Executes NVIDIA's file `path` as module `name` with `tensorflow` = tf.compat.v1."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("tensorflow")
    sys.modules["tensorflow"] = _tf1()
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules["tensorflow"] = saved
    return module


def load_networks(root, family):
    """NVIDIA's networks module for `family`, from the clone under `root`."""
    paths = nvidia_paths(root, family)
    install_dnnlib()
    if family == "stylegan1":
        return _load("nvidia_networks_stylegan", paths[0])
    for path in paths[1:]:
        name = "dnnlib.tflib.ops." + os.path.splitext(os.path.basename(path))[0]
        module = _load(name, path)
        _with_ref_impl(module)
        setattr(sys.modules["dnnlib.tflib.ops"], name.rsplit(".", 1)[1], module)
    return _load("nvidia_networks_stylegan2", paths[0])


# --------------------------------------------------------------------------- training graph
class Optimizer:
    """NVIDIA's tflib.Optimizer on one device without loss scaling: Adam, and the
    update skipped by a tf.cond when a gradient is not finite."""

    def __init__(self, name, learning_rate):
        tf = _tf1()
        self.opt = tf.train.AdamOptimizer(learning_rate, name=name, **ADAM)
        self.grads = []

    def register_gradients(self, loss, trainables):
        tf = _tf1()
        variables = list(trainables.values())
        self.grads = self.opt.compute_gradients(tf.cast(loss, tf.float32), variables,
                                                gate_gradients=tf.train.Optimizer.GATE_NONE)

    def apply_updates(self):
        tf = _tf1()
        grads = [(g, v) for g, v in self.grads if g is not None]
        with tf.name_scope("CheckOverflow"):
            ok = tf.reduce_all(tf.stack([tf.reduce_all(tf.is_finite(g)) for g, _ in grads]))
        return tf.cond(ok, lambda: self.opt.apply_gradients(grads), tf.no_op)


def _losses_stylegan1(G, D, reals, minibatch, r1_gamma=10.0):
    """G_logistic_nonsaturating and D_logistic_simplegp (R1) of NVIDIA's stylegan loss.py."""
    tf = _tf1()
    labels = tf.zeros([minibatch, 0])
    with tf.name_scope("G_loss"):
        latents = tf.random_normal([minibatch] + G.input_shapes[0][1:])
        fake_scores = D.get_output_for(G.get_output_for(latents, labels, is_training=True),
                                       labels, is_training=True)
        G_loss = tf.nn.softplus(-fake_scores)
    D_loss, D_reg = _d_logistic_r1(G, D, reals, minibatch, r1_gamma)
    return G_loss, D_loss + D_reg


def _d_logistic_r1(G, D, reals, minibatch, gamma):
    """(D's logistic loss, its R1 penalty): NVIDIA's D_logistic_simplegp (StyleGAN)
    and D_logistic_r1 (StyleGAN2) compute the same two terms."""
    tf = _tf1()
    with tf.name_scope("D_loss"):
        labels = tf.zeros([minibatch, 0])
        latents = tf.random_normal([minibatch] + G.input_shapes[0][1:])
        fakes = G.get_output_for(latents, labels, is_training=True)
        real_scores = D.get_output_for(reals, labels, is_training=True)
        fake_scores = D.get_output_for(fakes, labels, is_training=True)
        D_loss = tf.nn.softplus(fake_scores) + tf.nn.softplus(-real_scores)
        with tf.name_scope("R1Penalty"):
            real_grads = tf.gradients(tf.reduce_sum(real_scores), [reals])[0]
            D_reg = tf.reduce_sum(tf.square(real_grads), axis=[1, 2, 3]) * (gamma * 0.5)
    return D_loss, D_reg


def _losses_stylegan2(G, D, reals, minibatch, gamma=10.0, pl_minibatch_shrink=2,
                      pl_decay=0.01, pl_weight=2.0):
    """G_logistic_ns_pathreg and D_logistic_r1 of NVIDIA's stylegan2 loss.py, each
    regularizer added to its loss (no lazy regularization) as NVIDIA's loop does."""
    tf = _tf1()
    with tf.name_scope("G_loss"):
        latents = tf.random_normal([minibatch] + G.input_shapes[0][1:])
        labels = tf.zeros([minibatch, 0])
        fakes, _ = G.get_output_for(latents, labels, is_training=True, return_dlatents=True)
        G_loss = tf.nn.softplus(-D.get_output_for(fakes, labels, is_training=True))
        with tf.name_scope("PathReg"):
            pl_minibatch = minibatch // pl_minibatch_shrink
            pl_latents = tf.random_normal([pl_minibatch] + G.input_shapes[0][1:])
            fakes, dlatents = G.get_output_for(pl_latents, tf.zeros([pl_minibatch, 0]),
                                               is_training=True, return_dlatents=True)
            pl_noise = tf.random_normal(tf.shape(fakes)) / np.sqrt(np.prod(G.output_shape[2:]))
            pl_grads = tf.gradients(tf.reduce_sum(fakes * pl_noise), [dlatents])[0]
            pl_lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(pl_grads), axis=2),
                                                axis=1))
            with tf.control_dependencies(None):
                pl_mean_var = tf.Variable(name="pl_mean", trainable=False, initial_value=0.0,
                                          dtype=tf.float32)
            pl_mean = pl_mean_var + pl_decay * (tf.reduce_mean(pl_lengths) - pl_mean_var)
            with tf.control_dependencies([tf.assign(pl_mean_var, pl_mean)]):
                G_reg = tf.square(pl_lengths - pl_mean) * pl_weight
    D_loss, D_reg = _d_logistic_r1(G, D, reals, minibatch, gamma)
    # NVIDIA's loop: G_loss += G_reg; D_loss += D_reg (G's broadcasts [N, 1] + [N / 2]).
    return G_loss + G_reg, D_loss + D_reg


def build_training(nets, spec):
    """([(loss name, fetches of one sess.run)] in NVIDIA's order, feed dict) for a train spec."""
    tf = _tf1()
    family, px, batch = spec["family"], spec["px"], spec["batch"]
    minibatch_in = tf.placeholder(tf.int32, name="minibatch_in", shape=[])
    lrate_in = tf.placeholder(tf.float32, name="lrate_in", shape=[])
    lod_in = tf.placeholder(tf.float32, name="lod_in", shape=[])
    common = dict(num_channels=3, resolution=px, label_size=0, **FMAPS)
    if family == "stylegan1":
        structure = spec.get("structure", "fixed")
        G = Network("G", nets.G_style, structure=structure, use_noise=SG1_USE_NOISE, **common)
        D = Network("D", nets.D_basic, structure=structure, **common)
    else:
        G = Network("G", nets.G_main, fused_modconv=False, **common)
        D = Network("D", nets.D_stylegan2, **common)
    Gs = G.clone("Gs")
    G_opt, D_opt = Optimizer("TrainG", lrate_in), Optimizer("TrainD", lrate_in)
    rng = np.random.RandomState(123)
    reals_var = tf.Variable(rng.uniform(-1, 1, [batch, 3, px, px]).astype(np.float32),
                            name="reals", trainable=False)
    with tf.name_scope("GPU0"):
        lod_assign = [tf.assign(net.vars["lod"], lod_in) for net in (G, D) if "lod" in net.vars]
        reals = reals_var[:minibatch_in]
        with tf.control_dependencies(lod_assign):
            losses = (_losses_stylegan1 if family == "stylegan1" else _losses_stylegan2)(
                G, D, reals, minibatch_in)
        G_loss, D_loss = (tf.reduce_mean(loss) for loss in losses)
        G_opt.register_gradients(G_loss, G.trainables)
        D_opt.register_gradients(D_loss, D.trainables)
    G_train_op, D_train_op = G_opt.apply_updates(), D_opt.apply_updates()
    Gs_beta = 0.5 ** tf.div(tf.cast(minibatch_in, tf.float32), G_SMOOTHING_KIMG * 1000.0)
    Gs_update_op = Gs.setup_as_moving_average_of(G, beta=Gs_beta)
    D_run = ("D_loss", [D_train_op, Gs_update_op, D_loss])
    G_run = ("G_loss", [G_train_op, G_loss])
    if family == "stylegan1":  # training_loop.py: D (+ Gs) repeats, then G
        runs = [D_run, G_run]
    else:  # stylegan2 training_loop.py (no gradient accumulation): G, then D + Gs
        runs = [G_run, D_run]
    feed = {minibatch_in: batch, lrate_in: LRATE[family], lod_in: 0.0}
    return runs, feed


def train_one(nets, spec):
    tf = _tf1()
    runs, feed = build_training(nets, spec)
    sess = tf.get_default_session()
    _init_uninitialized(sess)
    losses = {}

    def step():
        for name, fetches in runs:
            losses[name] = float(sess.run(fetches, feed)[-1])

    for _ in range(1 + spec["warmup"]):
        step()
    t0 = time.perf_counter()
    for _ in range(spec["steps"]):
        step()
    sec = (time.perf_counter() - t0) / spec["steps"]
    return dict(images_per_s=spec["batch"] / sec, sec=sec, **losses,
                losses_finite=bool(all(np.isfinite(v) for v in losses.values())))


# --------------------------------------------------------------------------- generation
def _generator(nets, family, px, fused_modconv):
    common = dict(num_channels=3, resolution=px, label_size=0)
    if family == "stylegan1":
        # fmap_base 8192 etc.: NVIDIA's defaults
        return Network("Gs", nets.G_style, use_noise=SG1_USE_NOISE, **common)
    return Network("Gs", nets.G_main, fmap_base=16 << 10, fused_modconv=fused_modconv, **common)


def generate_one(nets, spec):
    """Median seconds of `steps` Gs calls (psi 1, stored noise) after 1 + warmup calls."""
    tf = _tf1()
    note = None
    fused = spec["family"] == "stylegan2"
    latents = np.random.RandomState(0).randn(spec["batch"], 512).astype(np.float32)
    sess = tf.get_default_session()
    try:
        images = _generate_graph(nets, spec, fused)
        _init_uninitialized(sess)
        out = sess.run(images[0], {images[1]: latents})
    except Exception as e:  # NVIDIA's grouped conv may not run on a CPU: say so, go on
        if not fused:
            raise
        note = f"fused_modconv=True failed here ({type(e).__name__}); measured with False"
        images = _generate_graph(nets, spec, False)
        _init_uninitialized(sess)
        out = sess.run(images[0], {images[1]: latents})
    for _ in range(spec["warmup"]):
        sess.run(images[0], {images[1]: latents})
    times = []
    for _ in range(spec["steps"]):
        t0 = time.perf_counter()
        out = sess.run(images[0], {images[1]: latents})
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    row = dict(images_per_s=spec["batch"] / sec, sec=sec,
               image_shape=list(out.shape), image_min=float(out.min()),
               image_max=float(out.max()), image_std=float(out.std()),
               image_finite=bool(np.isfinite(out).all()))
    if spec.get("trace"):
        row["op_ms"] = traced_op_ms(sess, images[0], {images[1]: latents})
    if spec["family"] == "stylegan2":
        row["fused_modconv"] = fused and not note
    if note:
        row["note"] = note
    return row


def traced_op_ms(sess, fetch, feed):
    """{op type: ms} of one traced call (the graph's RunMetadata step stats), largest first,
    plus "total"; for comparing with `profile_step.py generate`."""
    tf = _tf1()
    meta = tf.RunMetadata()
    sess.run(fetch, feed, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
             run_metadata=meta)
    by_type = collections.Counter()
    for device in meta.step_stats.dev_stats:
        for node in device.node_stats:
            label = node.timeline_label
            kind = label.split(" = ", 1)[1].split("(", 1)[0] if " = " in label else node.node_name
            by_type[kind] += node.op_end_rel_micros / 1e3
    total = sum(by_type.values())
    return dict([("total", round(total, 1))] +
                [(k, round(v, 1)) for k, v in by_type.most_common() if v >= 0.001 * total])


def _generate_graph(nets, spec, fused_modconv):
    tf = _tf1()
    Gs = _generator(nets, spec["family"], spec["px"], fused_modconv)
    latents_in = tf.placeholder(tf.float32, [None, 512], name="latents_in")
    labels = tf.zeros([tf.shape(latents_in)[0], 0])
    images = Gs.get_output_for(latents_in, labels, is_validation=True, randomize_noise=False)
    return images, latents_in


def _init_uninitialized(sess):
    tf = _tf1()
    variables = tf.global_variables()
    flags = sess.run([tf.is_variable_initialized(v) for v in variables])
    todo = [v for v, ok in zip(variables, flags) if not ok]
    if todo:
        sess.run(tf.variables_initializer(todo))


# --------------------------------------------------------------------------- main
def run_spec(root, spec):
    """The JSON row of one spec (as bench_targets' child) with NVIDIA's code from `root`."""
    nvidia_paths(root, spec["family"])  # the clear error before TensorFlow loads
    tf = _tf1()
    tf.disable_v2_behavior()
    nets = load_networks(root, spec["family"])
    np.random.seed(1000)
    tf.set_random_seed(1000)
    config = tf.ConfigProto(graph_options=tf.GraphOptions(place_pruned_graph=True),
                            inter_op_parallelism_threads=1 if spec.get("trace") else 0)
    with tf.Graph().as_default(), tf.Session(config=config).as_default():
        tf.set_random_seed(1000)
        return (train_one if spec["kind"] == "train" else generate_one)(nets, spec)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nvidia", required=True,
                   help="folder holding clones stylegan/ (NVlabs/stylegan) and "
                        "stylegan2/ (NVlabs/stylegan2)")
    p.add_argument("--spec", required=True, help="one bench_targets spec as JSON")
    p.add_argument("--trace", action="store_true",
                   help="generate specs: also trace one call and report op time by op type "
                        "(ops one at a time, as profile_step.py's default --inter-op 1)")
    args = p.parse_args()
    try:
        spec = json.loads(args.spec)
        missing = {"kind", "family", "px", "batch", "warmup", "steps"} - set(spec)
    except (ValueError, TypeError):
        sys.exit("nvidia_tf1: --spec must be a JSON object (a bench_targets spec)")
    if missing or spec["kind"] not in ("train", "generate") or spec["family"] not in NVIDIA_FILES:
        sys.exit(f"nvidia_tf1: --spec needs kind train|generate, family stylegan1|stylegan2, "
                 f"px, batch, warmup, steps (missing: {sorted(missing)})")
    spec["trace"] = args.trace
    try:
        row = run_spec(args.nvidia, spec)
    except NvidiaCodeError as e:
        sys.exit(f"nvidia_tf1: {e}")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
