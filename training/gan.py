"""The StyleGAN training model: a `keras.Model` whose `train_step` is one
minibatch of NVIDIA's StyleGAN1 or StyleGAN2 training loop, trained with
`model.fit`.

One step (global minibatch of B images, split over replicas) runs phases:

* D main: fakes from fresh latents (with style mixing), logistic loss on the
  current level of detail, with R1 (or WGAN-GP) unless R1 is lazy; Adam on D.
* D reg (lazy R1, StyleGAN2): every `D_reg_interval` steps, R1 alone on the
  reals, weighted by the interval; a second Adam update of D.
* G main: fresh latents, non-saturating logistic loss (+ the path-length
  penalty when it is not lazy); Adam on G.
* G reg (lazy path-length regularization, StyleGAN2): every
  `G_reg_interval` steps, on a batch shrunk by `pl_batch_shrink`, weighted
  by `pl_weight * G_reg_interval`; a second Adam update of G.

StyleGAN1 runs D main then G main (NVIDIA's StyleGAN1 loop); StyleGAN2 runs
G main, G reg, D main, D reg (NVIDIA's StyleGAN2 loop). Which regularization
phases a step runs is decided on the host from the step counter, and each
combination is its own compiled function (see `make_train_function`).

State: `w_avg` tracked from the main phases' w's (`Generator.update_w_avg`),
Gs updated as an exponential moving average of G (half-life
`G_smoothing_kimg`), the image and step counters, `lod`, and the running
mean of path lengths `pl_mean`.

Randomness is a function of (seed, image counter, purpose, GLOBAL sample
index): each replica draws the whole global batch with stateless ops and
keeps its own slice. Replicas get different z, noise and mixing latents, a
step gives the same result on any number of replicas (up to float
reduction order; the minibatch-stddev groups of D are per replica, as in
NVIDIA's code), and a resumed run replays the same numbers. The crossover
point of style mixing is one per global minibatch (NVIDIA: one per GPU
minibatch). The path-length mean is over the global batch (NVIDIA: per GPU).

Reference: Karras et al., "A Style-Based Generator Architecture for
Generative Adversarial Networks", CVPR 2019, and "Analyzing and Improving
the Image Quality of StyleGAN", CVPR 2020; NVIDIA's `training_loop.py`,
`loss.py` and `networks_stylegan.py` / `networks_stylegan2.py`.
"""

import collections

import keras
import numpy as np
import tensorflow as tf
from keras_stylegan.errors import ConfigError
from keras_stylegan.training import losses, rules
from keras_stylegan.training.augment import adaptive
from keras_stylegan.training.augment.pipeline import AugmentPipe
from keras_stylegan.training.schedule import min_lod_for_resolution

from keras_stylegan.ops import basic as sgops

# Purposes of random draws, folded into the per-step key.
_Z_D, _Z2_D, _MIX_D, _Z_G, _Z2_G, _MIX_G, _WGAN_ALPHA = 1, 2, 3, 4, 5, 6, 7
_Z_PL, _Z2_PL, _MIX_PL, _PL_NOISE = 8, 9, 10, 11
_NOISE_D, _NOISE_G, _NOISE_PL = 1000, 2000, 3000
# Augmentation of each set of images D sees (ADA).
_AUG_REAL, _AUG_FAKE_D, _AUG_FAKE_G, _AUG_R1, _AUG_MIX = 5001, 5002, 5003, 5004, 5005

Phases = collections.namedtuple("Phases", "d_reg g_reg")
Phases.__doc__ = "The lazy regularization phases one step runs (bools)."


def _strip_root(path):
    return path.split("/", 1)[-1]


def lazy_ratio(interval):
    """NVIDIA's lazy-regularization correction `c = interval / (interval + 1)`:
    Adam's learning rate is multiplied by c and its betas raised to the power c."""
    interval = int(interval)
    return interval / (interval + 1.0) if interval > 1 else 1.0


class StyleGAN(keras.Model):
    """G, D and the moving-average Gs, trained by `fit` on (images, labels) batches.

    Args:
        G, D, Gs: generator, discriminator and an identically configured
            generator that becomes the moving average of G (its weights are
            copied from G here). StyleGAN1 or StyleGAN2 (`G.family`).
        schedule: a `training.schedule.Schedule` (lod as a function of the
            image counter; StyleGAN2 needs `progressive=False`).
        loss: 'r1' (logistic + R1, NVIDIA's default) or 'wgan-gp'.
        r1_gamma: R1 weight (10).
        wgan_lambda, wgan_epsilon, wgan_target: WGAN-GP parameters.
        style_mixing_prob: probability of mixing two latents in a minibatch (0.9).
        G_smoothing_kimg: half-life of the Gs moving average in kimg (10).
        ema_rampup: optional StyleGAN2-ADA ramp: the half-life is at most
            `ema_rampup * kimg` (None: NVIDIA StyleGAN1, no ramp).
        D_reg_interval: R1 every this many steps (lazy, StyleGAN2: 16);
            1 = in every D step (StyleGAN1).
        G_reg_interval: path-length regularization every this many steps
            (StyleGAN2: 4); 1 = in every G step.
        pl_weight: path-length weight (StyleGAN2: 2; 0 = off).
        pl_decay: decay of the running mean of path lengths (0.01).
        pl_batch_shrink: the path-length batch is the minibatch divided by this (2).
        seed: seed of every random draw in the step.
        aug: 'noaug', 'fixed' or 'ada' (StyleGAN2-ADA's adaptive discriminator
            augmentation: every image D sees, reals and fakes, in every phase,
            goes through the `augpipe` pipeline with the step's p).
        aug_p: the fixed p, or ADA's initial p.
        augpipe: an `AugmentPipe` preset name ('bgc').
        ada_target, ada_kimg, ada_interval: ADA's target for r_t =
            E[sign(D(reals))], speed (p changes by at most 1 per ada_kimg) and
            update interval in steps (see `training.augment.adaptive`).

    Call `compile(G_optimizer, D_optimizer)` (it builds both optimizers) and
    `set_resolution(res)` before each `fit` at a new training resolution.
    With lazy regularization build the optimizers with `lazy_ratio` applied
    to their betas (`training.loop` does); `set_learning_rates` applies it
    to the learning rates.
    """

    def __init__(self, G, D, Gs, schedule, loss="r1", r1_gamma=10.0, wgan_lambda=10.0,
                 wgan_epsilon=0.001, wgan_target=1.0, style_mixing_prob=0.9,
                 G_smoothing_kimg=10.0, ema_rampup=None, D_reg_interval=1, G_reg_interval=1,
                 pl_weight=0.0, pl_decay=0.01, pl_batch_shrink=2, seed=0, aug="noaug",
                 aug_p=0.0, augpipe="bgc", ada_target=0.6, ada_kimg=500.0, ada_interval=4,
                 **kwargs):
        kwargs.setdefault("name", "stylegan")
        super().__init__(**kwargs)
        self.G, self.D, self.Gs = G, D, Gs
        self.schedule = schedule
        self.loss_name = losses.check_loss(loss)
        self.r1_gamma = float(r1_gamma)
        self.wgan_lambda, self.wgan_epsilon = float(wgan_lambda), float(wgan_epsilon)
        self.wgan_target = float(wgan_target)
        self.style_mixing_prob = float(style_mixing_prob)
        self.G_smoothing_kimg = float(G_smoothing_kimg)
        self.ema_rampup = None if ema_rampup is None else float(ema_rampup)
        self._set_regularization(D_reg_interval, G_reg_interval, pl_weight, pl_decay,
                                 pl_batch_shrink)
        self.seed = int(seed)
        self.g_first = G.family == "stylegan2"
        self._check_networks()
        self.cur_nimg = self.add_weight(name="cur_nimg", shape=(), dtype="int64",
                                        initializer="zeros", trainable=False)
        self.num_steps = self.add_weight(name="num_steps", shape=(), dtype="int64",
                                         initializer="zeros", trainable=False)
        self.lod = self.add_weight(name="lod", shape=(), initializer="zeros", trainable=False)
        self.pl_mean = self.add_weight(name="pl_mean", shape=(), initializer="zeros",
                                       trainable=False)
        # Last values of the regularizers (logged at every step, computed lazily).
        self.last_reg = self.add_weight(name="last_reg", shape=(2,), initializer="zeros",
                                        trainable=False)
        self._set_augment(aug, aug_p, augpipe, ada_target, ada_kimg, ada_interval)
        self.resolution = None
        self.G_opt = self.D_opt = None
        self._lrates = None
        self.set_lod(schedule.lod(0))
        for dst, src in zip(Gs.weights, G.weights):
            dst.assign(src)
        self._mark_built()

    def _set_regularization(self, D_reg_interval, G_reg_interval, pl_weight, pl_decay,
                            pl_batch_shrink):
        self.D_reg_interval, self.G_reg_interval = int(D_reg_interval), int(G_reg_interval)
        self.pl_weight, self.pl_decay = float(pl_weight), float(pl_decay)
        self.pl_batch_shrink = int(pl_batch_shrink)
        if self.D_reg_interval < 1 or self.G_reg_interval < 1 or self.pl_batch_shrink < 1:
            raise ConfigError("D_reg_interval, G_reg_interval and pl_batch_shrink must be >= 1.")
        if self.D_reg_interval > 1 and self.loss_name != "r1":
            raise ConfigError("Lazy regularization (D_reg_interval > 1) needs loss 'r1'.")
        self.d_lazy = rules.is_lazy(self.D_reg_interval, self.r1_gamma)
        self.g_lazy = rules.is_lazy(self.G_reg_interval, self.pl_weight)

    def _set_augment(self, aug, aug_p, augpipe, ada_target, ada_kimg, ada_interval):
        """ADA state: p, the sign accumulator [sum, count] and the last r_t."""
        adaptive.check_config(dict(aug=aug, aug_p=aug_p, augpipe=augpipe, ada_target=ada_target,
                                   ada_kimg=ada_kimg, ada_interval=ada_interval))
        self.aug, self.ada_target = aug, float(ada_target)
        self.ada_kimg, self.ada_interval = float(ada_kimg), int(ada_interval)
        self.augment_pipe = None if aug == "noaug" else AugmentPipe.preset(augpipe)
        if self.augment_pipe is not None:
            self.augment_pipe.check_channels(self.D.num_channels)
        self.aug_p = self.add_weight(name="aug_p", shape=(), trainable=False,
                                     initializer=keras.initializers.Constant(float(aug_p)))
        self.aug_signs = self.add_weight(name="aug_signs", shape=(2,), initializer="zeros",
                                         trainable=False)
        self.aug_rt = self.add_weight(name="aug_rt", shape=(), initializer="zeros",
                                      trainable=False)

    @property
    def lazy_ratios(self):
        """(G, D) `lazy_ratio`s of the lazy regularizers (1 when not lazy)."""
        return (lazy_ratio(self.G_reg_interval) if self.g_lazy else 1.0,
                lazy_ratio(self.D_reg_interval) if self.d_lazy else 1.0)

    def _mark_built(self):
        """Marks the GAN and its weightless sub-layers (blur, fade, minibatch stddev,
        built lazily by Keras) as built, so `fit` under a strategy does not trace
        `call` on a batch of real images to build them."""
        for layer in self._flatten_layers(include_self=False):
            if not layer.built:
                if layer.weights:
                    raise ValueError(f"Layer {layer.name} holds weights but is not built.")
                layer.built = True
        self.built = True

    def _check_networks(self):
        if self.G.resolution != self.D.resolution or self.G.resolution != self.schedule.resolution:
            raise ValueError(
                f"G ({self.G.resolution} px), D ({self.D.resolution} px) and the schedule "
                f"({self.schedule.resolution} px) must have the same resolution.")
        rules.check_growing(self.G.family, self.schedule.progressive)
        g = [(_strip_root(v.path), tuple(v.shape)) for v in self.G.weights]
        gs = [(_strip_root(v.path), tuple(v.shape)) for v in self.Gs.weights]
        if g != gs or self.Gs.family != self.G.family:
            raise ValueError("Gs must be built from the same config as G (its weights differ).")

    # Set-up ------------------------------------------------------------------
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras's TF trainer probes one batch to build unbuilt models when a
        # strategy is set; everything here is built in __init__/compile, and the
        # probe fails on MultiWorkerMirroredStrategy's per-replica batches.
        return

    def compile(self, G_optimizer, D_optimizer, steps_per_execution=1, jit_compile=False):
        """Sets and builds the two optimizers (Keras's own `optimizer` stays None)."""
        rules.check_steps_per_execution(steps_per_execution, self.d_lazy or self.g_lazy)
        super().compile(optimizer=None, steps_per_execution=steps_per_execution,
                        jit_compile=jit_compile)
        self.G_opt, self.D_opt = G_optimizer, D_optimizer
        self.G_opt.build(self.G.trainable_variables)
        self.D_opt.build(self.D.trainable_variables)

    def set_resolution(self, resolution):
        """Selects the training resolution; the step is retraced when it changes."""
        resolution = int(resolution)
        if resolution != self.resolution:
            self.resolution = resolution
            self.train_function = None

    def _lod_variables(self):
        nets = (self.G.synthesis, self.D, self.Gs.synthesis)
        return [self.lod] + [net.lod for net in nets if net.progressive]

    def set_lod(self, lod):
        """Writes `lod` to the model and to G, D and Gs (outside the step)."""
        for var in self._lod_variables():
            var.assign(lod)

    def reset_optimizers(self):
        """Zeroes both optimizers' state (Adam moments and step count), as NVIDIA
        does at each new level with `reset_opt_for_new_lod`; loss scales are kept."""
        for opt in (self.G_opt, self.D_opt):
            inner = getattr(opt, "inner_optimizer", opt)
            for var in inner.variables:
                if "learning_rate" not in var.path:
                    var.assign(tf.zeros(var.shape, var.dtype))

    def set_learning_rates(self, G_lrate, D_lrate):
        """Sets the learning rates, times `lazy_ratio` of the lazy regularizers."""
        G_ratio, D_ratio = self.lazy_ratios
        self.G_opt.learning_rate.assign(G_lrate * G_ratio)
        self.D_opt.learning_rate.assign(D_lrate * D_ratio)

    def call(self, z, labels=None):
        """Images of the moving-average generator Gs (const noise, current lod)."""
        return self.Gs(z, labels=labels, noise_mode="const")

    # Phases and compiled functions -------------------------------------------
    def phases_at(self, step):
        """The lazy regularization phases of step number `step` (NVIDIA: when
        `step % interval == 0`)."""
        return Phases(d_reg=self.d_lazy and step % self.D_reg_interval == 0,
                      g_reg=self.g_lazy and step % self.G_reg_interval == 0)

    def make_train_function(self, force=False):
        """Keras's train function; with lazy regularization, one compiled function
        per phase combination (traced when first needed), chosen on the host
        from the step counter before each step."""
        if self.train_function is not None and not force:
            return self.train_function
        if not (self.d_lazy or self.g_lazy):
            return super().make_train_function(force=True)
        variants = {}

        def function(iterator):
            phases = self.phases_at(int(self.num_steps.numpy()))
            if phases not in variants:
                step = lambda data, p=phases: self.train_step(data, phases=p)  # noqa: E731
                # Keras's own function builder (strategy.run + reduction), per variant.
                variants[phases] = self._make_function(step)
            return variants[phases](iterator)

        self.train_function = function
        return function

    # Randomness --------------------------------------------------------------
    def _draw(self, key, purpose, tail, rep, uniform=False):
        """The replica's slice of a [global_batch, *tail] stateless draw."""
        k = tf.random.experimental.stateless_fold_in(key, purpose)
        shape = tf.concat([[rep["global_n"]], tf.constant(tail, tf.int32)], 0)
        fn = tf.random.stateless_uniform if uniform else tf.random.stateless_normal
        x = fn(shape, seed=k)
        return x[rep["offset"]:rep["offset"] + rep["n"]]

    def _noise(self, key, base, rep, resolution):
        """Per-layer noise [n, H, W, 1] for the layers that run at `resolution`."""
        return [self._draw(key, base + i, (h, w, 1), rep) if h <= resolution else None
                for i, (h, w) in enumerate(self.G.synthesis.noise_shapes)]

    def _crossover(self, key, lod):
        """One crossover for the minibatch: in [1, cur_layers) w.p. mixing_prob, else cur_layers."""
        cur_layers = tf.gather(self.G.synthesis.ws_in_use(), tf.cast(tf.floor(lod), tf.int32))
        k0 = tf.random.experimental.stateless_fold_in(key, 0)
        k1 = tf.random.experimental.stateless_fold_in(key, 1)
        mix = tf.random.stateless_uniform([], k0) < self.style_mixing_prob
        cross = tf.random.stateless_uniform([], k1, minval=1, maxval=tf.maximum(cur_layers, 2),
                                            dtype=tf.int32)
        return tf.where(mix, cross, cur_layers)

    # Network calls ---------------------------------------------------------------
    def _progressive_kwargs(self, lod):
        return dict(lod=lod, resolution=self.resolution) if self.D.progressive else {}

    def _augment(self, images, s, purpose):
        """`images` through the ADA pipeline at the step's p (own random stream)."""
        if self.augment_pipe is None or s is None:
            return images
        key = tf.random.experimental.stateless_fold_in(s["key"], purpose)
        draw = lambda k, tail=(), uniform=False: self._draw(  # noqa: E731
            key, k, tail, s["rep"], uniform)
        return self.augment_pipe(tf.cast(images, tf.float32), s["aug_p"], draw)

    def _disc(self, images, labels, lod, s=None, aug=None):
        """D(images) in float32; with `s` and an `aug` purpose the images are
        augmented first (ADA)."""
        images = self._augment(images, s, aug)
        return tf.cast(self.D(images, labels=labels, **self._progressive_kwargs(lod)),
                       tf.float32)

    def _ws(self, key, purposes, labels, lod, rep):
        """Mapped (and style-mixed) ws [n, num_ws, w_dim] of fresh latents."""
        z_p, z2_p, mix_p = purposes
        ws = self.G.mapping(self._draw(key, z_p, (self.G.z_dim,), rep), labels=labels)
        if self.style_mixing_prob > 0:
            ws2 = self.G.mapping(self._draw(key, z2_p, (self.G.z_dim,), rep), labels=labels)
            mix_key = tf.random.experimental.stateless_fold_in(key, mix_p)
            ws = self.G.mix_styles(ws, ws2, self._crossover(mix_key, lod))
        return ws

    def _synthesize(self, ws, key, noise_p, lod, rep):
        noise = self._noise(key, noise_p, rep, self.resolution)
        if self.G.progressive:
            images = self.G.synthesis(ws, noise=noise, lod=lod, resolution=self.resolution)
        else:
            images = self.G.synthesis(ws, noise=noise)
        return tf.cast(images, tf.float32)

    def _generate(self, key, purposes, labels, lod, rep):
        """Fakes at the training resolution, and the sum of w[:, 0] over the replica."""
        ws = self._ws(key, purposes[:3], labels, lod, rep)
        images = self._synthesize(ws, key, purposes[3], lod, rep)
        return images, tf.reduce_sum(tf.cast(ws[:, 0], tf.float32), axis=0)

    def _input_grads(self, images, labels, lod, s=None, aug=None):
        """D(images) and d sum(D(images)) / d images (through the augmentation,
        if any), loss scaling undone."""
        with tf.GradientTape() as tape:
            tape.watch(images)
            scores = self._disc(images, labels, lod, s, aug)
            total = self._scale(self.D_opt, tf.reduce_sum(scores))
        grads = tape.gradient(total, images)
        return scores, self._unscale(self.D_opt, grads)

    @staticmethod
    def _scale(opt, loss):
        return opt.scale_loss(loss) if hasattr(opt, "inner_optimizer") else loss

    @staticmethod
    def _unscale(opt, grads):
        if hasattr(opt, "inner_optimizer"):
            return grads / tf.cast(opt.dynamic_scale, grads.dtype)
        return grads

    def _minimize(self, opt, variables, loss_fn):
        """One optimizer update of `variables` on `loss_fn()` (a scalar, or a
        tuple whose first element is); returns `loss_fn`'s result."""
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([v.value for v in variables])
            out = loss_fn()
            loss = out[0] if isinstance(out, tuple) else out
            scaled = self._scale(opt, loss)
        grads = tape.gradient(scaled, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        with tf.name_scope("optimizer"):
            opt.apply([g for g, _ in pairs], [v for _, v in pairs])
        return out

    def _process_reals(self, reals, lod):
        """NVIDIA's `process_reals` at the training resolution: fade towards the
        2x2-averaged image by the fractional lod of the level being faded in."""
        reals = tf.cast(reals, tf.float32)
        if self.resolution <= 4 or not self.schedule.progressive:
            return reals
        frac = tf.clip_by_value(
            lod - min_lod_for_resolution(self.G.resolution, self.resolution), 0.0, 1.0)
        low = sgops.upscale2d(sgops.downscale2d(reals))
        return reals + (low - reals) * frac

    # Phases ------------------------------------------------------------------
    def _d_main(self, s, reals, labels):
        """D's main update (with R1/WGAN-GP unless R1 is lazy); adds stats to `s`."""
        lod, rep, global_n = s["lod"], s["rep"], s["global_n"]
        fakes, s["wsum_d"] = self._generate(s["key"], (_Z_D, _Z2_D, _MIX_D, _NOISE_D),
                                            labels, lod, rep)
        fakes = tf.stop_gradient(fakes)

        def loss_fn():
            fake_scores = self._disc(fakes, labels, lod, s, _AUG_FAKE_D)
            if self.loss_name == "wgan-gp":
                real_scores = self._disc(reals, labels, lod, s, _AUG_REAL)
                alpha = self._draw(s["key"], _WGAN_ALPHA, (1, 1, 1), rep, uniform=True)
                _, mixed_grads = self._input_grads(reals + (fakes - reals) * alpha, labels, lod,
                                                   s, _AUG_MIX)
                per, penalty = losses.d_wgan_gp(real_scores, fake_scores, mixed_grads,
                                                self.wgan_lambda, self.wgan_epsilon,
                                                self.wgan_target)
            elif self.r1_gamma and not self.d_lazy:
                real_scores, real_grads = self._input_grads(reals, labels, lod, s, _AUG_REAL)
                per, penalty = losses.d_logistic_r1(real_scores, fake_scores, real_grads,
                                                    self.r1_gamma)
            else:
                real_scores = self._disc(reals, labels, lod, s, _AUG_REAL)
                per, penalty = losses.d_logistic_r1(real_scores, fake_scores)
            return tf.reduce_sum(per) / global_n, penalty, real_scores, fake_scores

        d_loss, penalty, real_scores, fake_scores = self._minimize(
            self.D_opt, self.D.trainable_variables, loss_fn)
        s.update(D_loss=d_loss, real_score=tf.reduce_sum(real_scores) / global_n,
                 fake_score=tf.reduce_sum(fake_scores) / global_n,
                 real_signs=tf.stack([tf.reduce_sum(tf.sign(real_scores)),
                                      tf.cast(tf.size(real_scores), tf.float32)]))
        if not self.d_lazy:
            s["penalty"] = tf.reduce_sum(penalty) / global_n

    def _d_reg(self, s, reals, labels):
        """Lazy R1: `gamma/2 * ||grad D(x)||^2 * D_reg_interval`, a separate D update."""
        weight = self.r1_gamma * 0.5 * self.D_reg_interval

        def loss_fn():
            _, grads = self._input_grads(reals, labels, s["lod"], s, _AUG_R1)
            penalty = losses.r1_penalty(grads)
            return tf.reduce_sum(penalty) * weight / s["global_n"], penalty

        _, penalty = self._minimize(self.D_opt, self.D.trainable_variables, loss_fn)
        s["penalty"] = tf.reduce_sum(penalty) / s["global_n"]

    def _g_main(self, s, labels):
        """G's main update (non-saturating logistic or WGAN; + path length when not lazy)."""
        def loss_fn():
            fakes, wsum = self._generate(s["key"], (_Z_G, _Z2_G, _MIX_G, _NOISE_G),
                                         labels, s["lod"], s["rep"])
            scores = self._disc(fakes, labels, s["lod"], s, _AUG_FAKE_G)
            per = (losses.g_logistic_nonsaturating(scores) if self.loss_name == "r1"
                   else losses.g_wgan(scores))
            loss = tf.reduce_sum(per) / s["global_n"]
            if self.pl_weight and not self.g_lazy:
                loss += self._path_length(s, labels, self.pl_weight)
            return loss, wsum

        s["G_loss"], s["wsum_g"] = self._minimize(self.G_opt, self.G.trainable_variables,
                                                  loss_fn)

    def _g_reg(self, s, labels):
        """Lazy path-length regularization, weighted by `pl_weight * G_reg_interval`."""
        weight = self.pl_weight * self.G_reg_interval
        self._minimize(self.G_opt, self.G.trainable_variables,
                       lambda: self._path_length(s, labels, weight))

    def _path_length(self, s, labels, weight):
        """`weight *` mean path-length penalty over the (shrunk) global batch;
        stores the penalty and the new running mean in `s`."""
        rep, key, lod = s["rep"], s["key"], s["lod"]
        shrink = self.pl_batch_shrink
        prep = dict(n=rep["n"] // shrink, global_n=rep["global_n"] // shrink,
                    offset=rep["offset"] // shrink)
        global_m = tf.cast(prep["global_n"], tf.float32)
        pl_labels = None if labels is None else labels[:prep["n"]]
        ws = self._ws(key, (_Z_PL, _Z2_PL, _MIX_PL), pl_labels, lod, prep)
        with tf.GradientTape() as tape:
            tape.watch(ws)
            images = self._synthesize(ws, key, _NOISE_PL, lod, prep)
            h, w, c = images.shape[1:]
            y = self._draw(key, _PL_NOISE, (h, w, c), prep) / np.sqrt(h * w)
            out = self._scale(self.G_opt, tf.reduce_sum(images * y))
        lengths = losses.path_lengths(self._unscale(self.G_opt, tape.gradient(out, ws)))
        ctx = tf.distribute.get_replica_context()
        batch_mean = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(lengths)) / global_m
        penalty, s["pl_mean"] = losses.path_length_penalty(
            lengths, batch_mean, tf.convert_to_tensor(self.pl_mean), self.pl_decay)
        s["pl_penalty"] = tf.reduce_sum(penalty) / global_m
        return tf.reduce_sum(penalty) * weight / global_m

    # The step ----------------------------------------------------------------
    def train_step(self, data, phases=None):
        """One minibatch: the phases of `phases` (default: those of step 0's
        kind for non-lazy runs), then the state update; returns the logs."""
        reals, labels = data
        if self.G.label_size == 0:
            labels = None
        phases = phases or Phases(False, False)
        ctx = tf.distribute.get_replica_context()
        if reals.shape[0] is not None:
            rules.check_pl_batch(reals.shape[0], self.pl_batch_shrink, self.pl_weight)
        n = tf.shape(reals)[0]
        rid = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
        rep = dict(n=n, global_n=n * ctx.num_replicas_in_sync, offset=rid * n)
        nimg = tf.convert_to_tensor(self.cur_nimg)
        min_lod = min_lod_for_resolution(self.G.resolution, self.resolution)
        lod = tf.maximum(self.schedule.lod_tensor(nimg), min_lod)
        s = dict(rep=rep, lod=lod, global_n=tf.cast(rep["global_n"], tf.float32),
                 aug_p=tf.convert_to_tensor(self.aug_p),
                 key=tf.random.experimental.stateless_fold_in(
                     tf.constant([self.seed, 0], tf.int64), nimg))
        reals = self._process_reals(reals, lod)

        # The name scopes label the phases in profiles (bench/profile_step.py).
        def d_phases():
            with tf.name_scope("D_main"):
                self._d_main(s, reals, labels)
            if phases.d_reg:
                with tf.name_scope("D_reg"):
                    self._d_reg(s, reals, labels)

        def g_phases():
            with tf.name_scope("G_main"):
                self._g_main(s, labels)
            if phases.g_reg:
                with tf.name_scope("G_reg"):
                    self._g_reg(s, labels)

        for run in ((g_phases, d_phases) if self.g_first else (d_phases, g_phases)):
            run()
        return self._finish_step(ctx, s, nimg)

    def _finish_step(self, ctx, s, nimg):
        """All-reduces the statistics, updates the state; returns the logs."""
        zero = tf.zeros([], tf.float32)
        has_reg = tf.constant(["penalty" in s, "pl_penalty" in s], tf.float32)
        stats = tf.stack([s["D_loss"], s["G_loss"], s["real_score"], s["fake_score"],
                          s.get("penalty", zero), s.get("pl_penalty", zero)])
        wsums = tf.stack([s["wsum_d"], s["wsum_g"]]) / s["global_n"]
        stats, wmeans, signs = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                                              [stats, wsums, s["real_signs"]])
        new_nimg = nimg + tf.cast(s["rep"]["global_n"], tf.int64)
        pl_mean = s.get("pl_mean", tf.convert_to_tensor(self.pl_mean))
        ctx.merge_call(self._update_state, args=(
            wmeans, new_nimg, s["lod"], self._ema_beta(nimg, s["global_n"]), pl_mean,
            stats[4:], has_reg, signs))
        return self._logs(stats, s["lod"], new_nimg, has_reg)

    def _logs(self, stats, lod, new_nimg, has_reg):
        last_reg = has_reg * stats[4:] + (1.0 - has_reg) * tf.convert_to_tensor(self.last_reg)
        logs = dict(D_loss=stats[0], G_loss=stats[1], real_score=stats[2],
                    fake_score=stats[3], lod=lod, kimg=tf.cast(new_nimg, tf.float32) / 1000.0,
                    G_lrate=self.G_opt.learning_rate, D_lrate=self.D_opt.learning_rate)
        if self.loss_name == "wgan-gp":
            logs["GP"] = last_reg[0]
        elif self.r1_gamma:
            logs["R1"] = last_reg[0]
        if self.pl_weight:
            logs.update(PL=last_reg[1], pl_mean=self.pl_mean)
        logs["signs_real"] = self.aug_rt
        if self.aug != "noaug":
            logs["aug_p"] = self.aug_p
        if hasattr(self.G_opt, "inner_optimizer"):
            logs["G_loss_scale"] = self.G_opt.dynamic_scale
            logs["D_loss_scale"] = self.D_opt.dynamic_scale
        # Shaped (1,): MultiWorkerMirroredStrategy + Keras 3 fit needs non-scalar logs.
        return {k: tf.reshape(tf.cast(v, tf.float32), [1]) for k, v in logs.items()}

    def _ema_beta(self, nimg, global_n):
        if self.G_smoothing_kimg <= 0:
            return tf.zeros([], tf.float32)
        ema_nimg = tf.constant(self.G_smoothing_kimg * 1000.0, tf.float32)
        if self.ema_rampup is not None:
            ema_nimg = tf.minimum(ema_nimg, tf.cast(nimg, tf.float32) * self.ema_rampup)
        return 0.5 ** (global_n / tf.maximum(ema_nimg, 1e-8))

    def _update_state(self, strategy, wmeans, new_nimg, lod, beta, pl_mean, reg, has_reg,
                      signs):
        """Cross-replica: every replica holds the same values; take the first."""
        local = lambda x: strategy.experimental_local_results(x)[0]  # noqa: E731
        wmeans = local(wmeans)
        self.G.update_w_avg(wmeans[0][None, None, :])
        self.G.update_w_avg(wmeans[1][None, None, :])
        # Gs = lerp(G, Gs, beta), on every device from its own copies.
        with tf.name_scope("ema"):
            for gs_var, g_var in zip(self.Gs.trainable_variables, self.G.trainable_variables):
                strategy.extended.update(
                    gs_var.value, lambda v, g, b: v.assign(g + (v - g) * tf.cast(b, v.dtype)),
                    args=(g_var.value, beta), group=False)
        self.Gs.w_avg.assign(self.G.w_avg)
        lod = local(lod)
        for var in self._lod_variables():
            var.assign(lod)
        self.cur_nimg.assign(local(new_nimg))
        self._update_augment(local(signs), tf.convert_to_tensor(self.num_steps) + 1)
        self.num_steps.assign_add(1)
        self.pl_mean.assign(local(pl_mean))
        has_reg = local(has_reg)
        self.last_reg.assign(has_reg * local(reg) + (1.0 - has_reg) * self.last_reg)

    def _update_augment(self, signs, num_steps):
        """Accumulates this step's signs of D(reals); every `ada_interval` steps
        sets r_t and (ADA) adjusts p (`training.augment.adaptive.accumulate`)."""
        p, acc, r_t, due = adaptive.accumulate(
            tf.convert_to_tensor(self.aug_p), tf.convert_to_tensor(self.aug_signs), signs,
            num_steps, self.ada_interval, self.ada_target, self.ada_kimg,
            adapt=self.aug == "ada")
        self.aug_p.assign(p)
        self.aug_signs.assign(acc)
        self.aug_rt.assign(due * r_t + (1.0 - due) * self.aug_rt)
