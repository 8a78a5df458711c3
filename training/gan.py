"""The StyleGAN training model: a `keras.Model` whose `train_step` is one
minibatch of NVIDIA's StyleGAN1 training loop, trained with `model.fit`.

One step (global minibatch of B images, split over replicas):

1. D step: fakes from fresh latents (with style mixing), logistic loss + R1
   (or WGAN-GP) on the current level of detail; Adam on D.
2. G step: fresh latents, non-saturating logistic loss; Adam on G.
3. State: `w_avg` tracked from both steps' w's (`Generator.update_w_avg`), Gs
   updated as an exponential moving average of G (half-life
   `G_smoothing_kimg`), the image counter and `lod` advanced.

Randomness is a function of (seed, image counter, purpose, GLOBAL sample
index): each replica draws the whole global batch with stateless ops and
keeps its own slice. Replicas get different z, noise and mixing latents, a
step gives the same result on any number of replicas (up to float
reduction order; the minibatch-stddev groups of D are per replica, as in
NVIDIA's code), and a resumed run replays the same numbers. The crossover
point of style mixing is one per global minibatch (NVIDIA: one per GPU
minibatch).

Reference: Karras et al., "A Style-Based Generator Architecture for
Generative Adversarial Networks", CVPR 2019; NVIDIA's `training_loop.py`,
`loss.py` and `networks_stylegan.py` (G_style).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_stylegan import ops as sgops
from training import losses
from training.schedule import min_lod_for_resolution

# Purposes of random draws, folded into the per-step key.
_Z_D, _Z2_D, _MIX_D, _Z_G, _Z2_G, _MIX_G, _WGAN_ALPHA = 1, 2, 3, 4, 5, 6, 7
_NOISE_D, _NOISE_G = 1000, 2000


def _strip_root(path):
    return path.split("/", 1)[-1]


class StyleGAN(keras.Model):
    """G, D and the moving-average Gs, trained by `fit` on (images, labels) batches.

    Args:
        G, D, Gs: generator, discriminator and an identically configured
            generator that becomes the moving average of G (its weights are
            copied from G here).
        schedule: a `training.schedule.Schedule` (lod as a function of the
            image counter).
        loss: 'r1' (logistic + R1, NVIDIA's default) or 'wgan-gp'.
        r1_gamma: R1 weight (10).
        wgan_lambda, wgan_epsilon, wgan_target: WGAN-GP parameters.
        style_mixing_prob: probability of mixing two latents in a minibatch (0.9).
        G_smoothing_kimg: half-life of the Gs moving average in kimg (10).
        ema_rampup: optional StyleGAN2-ADA ramp: the half-life is at most
            `ema_rampup * kimg` (None: NVIDIA StyleGAN1, no ramp).
        seed: seed of every random draw in the step.

    Call `compile(G_optimizer, D_optimizer)` (it builds both optimizers) and
    `set_resolution(res)` before each `fit` at a new training resolution.
    """

    def __init__(self, G, D, Gs, schedule, loss="r1", r1_gamma=10.0, wgan_lambda=10.0,
                 wgan_epsilon=0.001, wgan_target=1.0, style_mixing_prob=0.9,
                 G_smoothing_kimg=10.0, ema_rampup=None, seed=0, **kwargs):
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
        self.seed = int(seed)
        if G.resolution != D.resolution or G.resolution != schedule.resolution:
            raise ValueError(
                f"G ({G.resolution} px), D ({D.resolution} px) and the schedule "
                f"({schedule.resolution} px) must have the same resolution.")
        self._check_gs()
        self.cur_nimg = self.add_weight(name="cur_nimg", shape=(), dtype="int64",
                                        initializer="zeros", trainable=False)
        self.lod = self.add_weight(name="lod", shape=(), initializer="zeros", trainable=False)
        self.resolution = None
        self.G_opt = self.D_opt = None
        self.set_lod(schedule.lod(0))
        for dst, src in zip(Gs.weights, G.weights):
            dst.assign(src)
        self._mark_built()

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

    def _check_gs(self):
        g = [(_strip_root(v.path), tuple(v.shape)) for v in self.G.weights]
        gs = [(_strip_root(v.path), tuple(v.shape)) for v in self.Gs.weights]
        if g != gs:
            raise ValueError("Gs must be built from the same config as G (its weights differ).")

    # Set-up ------------------------------------------------------------------
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras's TF trainer probes one batch to build unbuilt models when a
        # strategy is set; everything here is built in __init__/compile, and the
        # probe fails on MultiWorkerMirroredStrategy's per-replica batches.
        return

    def compile(self, G_optimizer, D_optimizer, steps_per_execution=1, jit_compile=False):
        """Sets and builds the two optimizers (Keras's own `optimizer` stays None)."""
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

    def set_lod(self, lod):
        """Writes `lod` to the model and to G, D and Gs (outside the step)."""
        for var in (self.lod, self.G.synthesis.lod, self.D.lod, self.Gs.synthesis.lod):
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
        self.G_opt.learning_rate.assign(G_lrate)
        self.D_opt.learning_rate.assign(D_lrate)

    def call(self, z, labels=None):
        """Images of the moving-average generator Gs (const noise, current lod)."""
        return self.Gs(z, labels=labels, noise_mode="const")

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
        used = 2 * int(np.log2(resolution)) - 2
        return [self._draw(key, base + i, (h, w, 1), rep) if i < used else None
                for i, (h, w) in enumerate(self.G.synthesis.noise_shapes)]

    def _crossover(self, key, lod):
        """One crossover for the minibatch: in [1, cur_layers) w.p. mixing_prob, else cur_layers."""
        cur_layers = self.G.num_ws - 2 * tf.cast(tf.floor(lod), tf.int32)
        k0 = tf.random.experimental.stateless_fold_in(key, 0)
        k1 = tf.random.experimental.stateless_fold_in(key, 1)
        mix = tf.random.stateless_uniform([], k0) < self.style_mixing_prob
        cross = tf.random.stateless_uniform([], k1, minval=1, maxval=tf.maximum(cur_layers, 2),
                                            dtype=tf.int32)
        return tf.where(mix, cross, cur_layers)

    # The step ----------------------------------------------------------------
    def _generate(self, key, purposes, labels, lod, rep):
        """Fakes at the training resolution, and the sum of w[:, 0] over the replica."""
        z_p, z2_p, mix_p, noise_p = purposes
        z = self._draw(key, z_p, (self.G.z_dim,), rep)
        ws = self.G.mapping(z, labels=labels)
        if self.style_mixing_prob > 0:
            ws2 = self.G.mapping(self._draw(key, z2_p, (self.G.z_dim,), rep), labels=labels)
            mix_key = tf.random.experimental.stateless_fold_in(key, mix_p)
            ws = self.G.mix_styles(ws, ws2, self._crossover(mix_key, lod))
        noise = self._noise(key, noise_p, rep, self.resolution)
        images = self.G.synthesis(ws, noise=noise, lod=lod, resolution=self.resolution)
        return tf.cast(images, tf.float32), tf.reduce_sum(tf.cast(ws[:, 0], tf.float32), axis=0)

    def _input_grads(self, images, labels, lod):
        """D(images) and d sum(D(images)) / d images, loss scaling undone."""
        with tf.GradientTape() as tape:
            tape.watch(images)
            scores = tf.cast(self.D(images, labels=labels, lod=lod,
                                    resolution=self.resolution), tf.float32)
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

    @staticmethod
    def _apply(opt, loss, tape, variables):
        grads = tape.gradient(loss, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        opt.apply([g for g, _ in pairs], [v for _, v in pairs])

    def _process_reals(self, reals, lod):
        """NVIDIA's `process_reals` at the training resolution: fade towards the
        2x2-averaged image by the fractional lod of the level being faded in."""
        reals = tf.cast(reals, tf.float32)
        frac = tf.clip_by_value(
            lod - min_lod_for_resolution(self.G.resolution, self.resolution), 0.0, 1.0)
        if self.resolution <= 4:
            return reals
        low = sgops.upscale2d(sgops.downscale2d(reals))
        return reals + (low - reals) * frac

    def train_step(self, data):
        reals, labels = data
        if self.G.label_size == 0:
            labels = None
        ctx = tf.distribute.get_replica_context()
        num_replicas = ctx.num_replicas_in_sync
        n = tf.shape(reals)[0]
        rid = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
        rep = dict(n=n, global_n=n * num_replicas, offset=rid * n)
        global_n = tf.cast(rep["global_n"], tf.float32)

        nimg = tf.convert_to_tensor(self.cur_nimg)
        min_lod = min_lod_for_resolution(self.G.resolution, self.resolution)
        lod = tf.maximum(self.schedule.lod_tensor(nimg), min_lod)
        key = tf.random.experimental.stateless_fold_in(
            tf.constant([self.seed, 0], tf.int64), nimg)
        reals = self._process_reals(reals, lod)

        # D step.
        fakes, wsum_d = self._generate(key, (_Z_D, _Z2_D, _MIX_D, _NOISE_D), labels, lod, rep)
        fakes = tf.stop_gradient(fakes)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([v.value for v in self.D.trainable_variables])
            fake_scores = tf.cast(self.D(fakes, labels=labels, lod=lod,
                                         resolution=self.resolution), tf.float32)
            if self.loss_name == "r1":
                if self.r1_gamma:
                    real_scores, real_grads = self._input_grads(reals, labels, lod)
                else:
                    real_scores, real_grads = tf.cast(self.D(
                        reals, labels=labels, lod=lod, resolution=self.resolution),
                        tf.float32), None
                d_per, penalty = losses.d_logistic_r1(real_scores, fake_scores, real_grads,
                                                      self.r1_gamma)
            else:
                real_scores = tf.cast(self.D(reals, labels=labels, lod=lod,
                                             resolution=self.resolution), tf.float32)
                alpha = self._draw(key, _WGAN_ALPHA, (1, 1, 1), rep, uniform=True)
                mixed = reals + (fakes - reals) * alpha
                _, mixed_grads = self._input_grads(mixed, labels, lod)
                d_per, penalty = losses.d_wgan_gp(real_scores, fake_scores, mixed_grads,
                                                  self.wgan_lambda, self.wgan_epsilon,
                                                  self.wgan_target)
            d_loss = tf.reduce_sum(d_per) / global_n
            scaled = self._scale(self.D_opt, d_loss)
        self._apply(self.D_opt, scaled, tape, self.D.trainable_variables)

        # G step.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([v.value for v in self.G.trainable_variables])
            fakes_g, wsum_g = self._generate(key, (_Z_G, _Z2_G, _MIX_G, _NOISE_G), labels,
                                             lod, rep)
            g_scores = tf.cast(self.D(fakes_g, labels=labels, lod=lod,
                                      resolution=self.resolution), tf.float32)
            g_per = (losses.g_logistic_nonsaturating(g_scores) if self.loss_name == "r1"
                     else losses.g_wgan(g_scores))
            g_loss = tf.reduce_sum(g_per) / global_n
            scaled = self._scale(self.G_opt, g_loss)
        self._apply(self.G_opt, scaled, tape, self.G.trainable_variables)

        # Global statistics (one all-reduce), then the state update.
        stats = tf.stack([
            d_loss, g_loss, tf.reduce_sum(penalty) / global_n,
            tf.reduce_sum(real_scores) / global_n, tf.reduce_sum(fake_scores) / global_n])
        wsums = tf.stack([wsum_d, wsum_g]) / global_n
        stats, wmeans = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [stats, wsums])
        new_nimg = nimg + tf.cast(rep["global_n"], tf.int64)
        ctx.merge_call(self._update_state,
                       args=(wmeans, new_nimg, lod, self._ema_beta(nimg, global_n)))

        logs = dict(D_loss=stats[0], G_loss=stats[1],
                    R1=stats[2] if self.loss_name == "r1" else 0.0,
                    GP=stats[2] if self.loss_name == "wgan-gp" else 0.0,
                    real_score=stats[3], fake_score=stats[4], lod=lod,
                    kimg=tf.cast(new_nimg, tf.float32) / 1000.0,
                    G_lrate=self.G_opt.learning_rate, D_lrate=self.D_opt.learning_rate)
        if self.loss_name == "r1":
            logs.pop("GP")
        else:
            logs.pop("R1")
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

    def _update_state(self, strategy, wmeans, new_nimg, lod, beta):
        """Cross-replica: every replica holds the same values; take the first."""
        local = lambda x: strategy.experimental_local_results(x)[0]  # noqa: E731
        wmeans = local(wmeans)
        self.G.update_w_avg(wmeans[0][None, None, :])
        self.G.update_w_avg(wmeans[1][None, None, :])
        # Gs = lerp(G, Gs, beta), on every device from its own copies.
        for gs_var, g_var in zip(self.Gs.trainable_variables, self.G.trainable_variables):
            strategy.extended.update(
                gs_var.value, lambda v, g, b: v.assign(g + (v - g) * tf.cast(b, v.dtype)),
                args=(g_var.value, beta), group=False)
        self.Gs.w_avg.assign(self.G.w_avg)
        lod = local(lod)
        for var in (self.lod, self.G.synthesis.lod, self.D.lod, self.Gs.synthesis.lod):
            var.assign(lod)
        self.cur_nimg.assign(local(new_nimg))
