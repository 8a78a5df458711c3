"""A training run: config resolution, run directory, networks, resume and one
`model.fit` call per schedule segment.

Run directory (`outdir`)::

    config.json                      resolved config (compared on resume)
    log.txt                          console progress
    logs/                            TensorBoard (scalars, Gs image grids)
    checkpoints/ckpt-NIMG.*          G, D, Gs, both optimizers, counters (last K)
    reals.png, fakesKIMG.png         image grids (fixed latents, Gs)
    network-snapshot-KIMG.keras      Gs, loadable with keras.saving.load_model

Running the same command again resumes from the newest checkpoint, exactly:
the step's randomness is a function of (seed, image counter), the data stream
of (seed, segment, batches done), and everything else is in the checkpoint.

Example:

>>> from keras_stylegan.training import configs, loop
>>> cfg = configs.get("cpu-demo", total_kimg=1)
>>> result = loop.train(cfg, "runs/demo")          # doctest: +SKIP
"""

import json
import os
import time

import keras
import numpy as np
from keras_stylegan.errors import ConfigError
from keras_stylegan.networks import renames
from keras_stylegan.training import configs as configs_lib
from keras_stylegan.training import distribute, rules

CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "logs"


class ResumeError(ValueError):
    """The run directory cannot be resumed with this configuration."""


def _jsonable(cfg):
    return json.loads(json.dumps(cfg))


def _setup_precision(cfg):
    """Sets the global dtype policy; returns the policy name."""
    import tensorflow as tf
    if not cfg["mixed_precision"]:
        policy = "float32"
    else:
        policy = "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
    keras.config.set_dtype_policy(policy)
    return policy


def _make_optimizer(cfg, lrate, mixed, ratio=1.0):
    """Adam with NVIDIA's settings; with lazy regularization its betas are raised
    to the power `ratio` (`StyleGAN.lazy_ratios`; the learning rate is scaled
    by `StyleGAN.set_learning_rates`)."""
    opt = keras.optimizers.Adam(learning_rate=lrate, beta_1=cfg["adam_beta1"] ** ratio,
                                beta_2=cfg["adam_beta2"] ** ratio, epsilon=cfg["adam_epsilon"])
    return keras.optimizers.LossScaleOptimizer(opt) if mixed else opt


def _gan_kwargs(cfg):
    """StyleGAN model arguments of a resolved config."""
    keys = ("loss", "r1_gamma", "wgan_lambda", "wgan_epsilon", "wgan_target",
            "style_mixing_prob", "G_smoothing_kimg", "ema_rampup", "D_reg_interval",
            "G_reg_interval", "pl_weight", "pl_decay", "pl_batch_shrink", "seed",
            "aug", "aug_p", "augpipe", "ada_target", "ada_kimg", "ada_interval")
    return {k: cfg[k] for k in keys}


def build_networks(cfg, policy):
    """(G, D, Gs) of a resolved config; Gs is always float32."""
    from keras_stylegan.networks.generator import Generator
    from keras_stylegan.networks.registry import build_discriminator
    common = dict(resolution=cfg["resolution"], num_channels=cfg["num_channels"],
                  label_size=cfg["label_size"])
    try:  # the kwargs come from the user's config (--set G_kwargs=...)
        G = Generator(family=cfg["family"], name="G", **common, **cfg["G_kwargs"])
        D = build_discriminator(family=cfg["family"], name="D", **common, **cfg["D_kwargs"])
    except (TypeError, ValueError) as e:
        raise ConfigError(f"Cannot build the networks of this config (G_kwargs/D_kwargs, "
                          f"family {cfg['family']!r}): {e}") from e
    if policy != "float32":
        keras.config.set_dtype_policy("float32")
    try:
        Gs = Generator(family=cfg["family"], name="Gs", **common, **cfg["G_kwargs"])
    finally:
        keras.config.set_dtype_policy(policy)
    return G, D, Gs


def check_resume_config(stored, cfg):
    """Raises ResumeError naming the keys that differ in ways that change the run."""
    new = _jsonable(cfg)
    stored = {**_jsonable(configs_lib.DEFAULTS), **stored}  # keys added since it was written
    diff = sorted(k for k in set(stored) | set(new)
                  if k not in configs_lib.RESUMABLE_CHANGES and stored.get(k) != new.get(k))
    if diff:
        details = "; ".join(f"{k}: {stored.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise ResumeError(
            f"The run directory holds a run with a different configuration ({details}). "
            "Resume with the original options, or use a new --outdir.")


class Run:
    """Everything a run needs, built by `prepare`; `fit()` trains it.

    Attributes: cfg (resolved), run_dir, strategy, dataset, schedule,
    segments, gan, checkpoint, manager, is_chief, resumed_from.
    """

    def __init__(self, cfg, run_dir, dataset, strategy, print_fn=print, pretrained=None,
                 metric_options=None):
        self.cfg, self.run_dir, self.dataset, self.strategy = cfg, run_dir, dataset, strategy
        self.print_fn = print_fn
        self.pretrained = pretrained  # --init: a training.pretrained.Pretrained
        self.init_log, self.frozen = [], []  # --init's log lines; Freeze-D's blocks
        self.metric_options = metric_options
        _, self.task_index, self.is_chief = distribute.task_info()
        self.multi_worker = distribute.is_multi_worker()
        self.resumed_from = None
        self.scratch = None

    # Set-up --------------------------------------------------------------------
    def build(self):
        import tensorflow as tf
        from keras_stylegan.training.gan import StyleGAN
        from keras_stylegan.training.schedule import Schedule

        cfg = self.cfg
        self.policy = _setup_precision(cfg)
        self.schedule = Schedule(**configs_lib.schedule_kwargs(cfg))
        self.segments = self.schedule.segments(int(round(cfg["total_kimg"] * 1000)))
        for seg in self.segments:
            self._check_minibatch(seg)
        mixed = self.policy != "float32"
        with self.strategy.scope():
            keras.utils.set_random_seed(cfg["seed"])
            G, D, Gs = build_networks(cfg, self.policy)
            from keras_stylegan.training.freeze_d import freeze
            self.frozen = freeze(D, cfg["freezed"])  # before the optimizer is built
            self.gan = StyleGAN(G, D, Gs, self.schedule, **_gan_kwargs(cfg))
            gan = self.gan
            first = self.segments[0]
            G_ratio, D_ratio = gan.lazy_ratios
            gan.compile(
                _make_optimizer(cfg, first.G_lrate, mixed, G_ratio),
                _make_optimizer(cfg, first.D_lrate, mixed, D_ratio),
                steps_per_execution=cfg["steps_per_execution"], jit_compile=cfg["jit_compile"])
            gan.set_learning_rates(first.G_lrate, first.D_lrate)
        if self.pretrained is not None:  # a checkpoint, if resumed, overwrites it
            self.init_log = self.pretrained.copy_into(gan.G, gan.D, gan.Gs)
        self.checkpoint = make_checkpoint(gan)
        ckpt_dir = os.path.join(self.run_dir, CHECKPOINT_DIR)
        if not self.is_chief:
            from keras_stylegan.training.callbacks import scratch_dir
            self.scratch = scratch_dir(f"stylegan-worker{self.task_index}-")
            ckpt_dir = self.scratch
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, ckpt_dir, max_to_keep=int(cfg["keep_checkpoints"]),
            checkpoint_name="ckpt")
        return self

    def _check_minibatch(self, seg):
        cfg = self.cfg
        per_replica = seg.minibatch // cfg["num_replicas"]
        group = int(cfg["D_kwargs"].get("mbstd_group_size", 4) or 0)
        if group > 1 and per_replica % min(group, per_replica):
            raise ConfigError(
                f"The per-replica minibatch at {seg.resolution} px is {per_replica}, not a "
                f"multiple of the minibatch-stddev group size {group}: change "
                "minibatch_base/minibatch_dict or the number of GPUs.")
        rules.check_pl_batch(per_replica, cfg["pl_batch_shrink"], cfg["pl_weight"],
                             where=f" at {seg.resolution} px")

    def remove_leftovers(self):
        """The chief removes what a killed run left (`callbacks.remove_leftovers`)."""
        if self.is_chief:
            from keras_stylegan.training.callbacks import remove_leftovers
            remove_leftovers(self.run_dir, os.path.join(self.run_dir, CHECKPOINT_DIR))

    def restore(self, resume="auto"):
        """Restores the newest checkpoint of the run directory (see `train`).

        Under several workers every worker restores the chief's checkpoint, so
        they must all see the same one (a shared run directory): checked first,
        with a collective, else every worker stops with `ResumeError`.
        """
        latest = tf_latest_checkpoint(os.path.join(self.run_dir, CHECKPOINT_DIR))
        if self.multi_worker:
            self._check_workers_agree(latest)
        if latest is None:
            if resume is True:
                raise ResumeError(f"--resume: no checkpoint in {self.run_dir}/{CHECKPOINT_DIR}.")
            return None
        stored_path = os.path.join(self.run_dir, "config.json")
        if os.path.exists(stored_path):
            from keras_stylegan.json_file import read_json_object
            check_resume_config(read_json_object(
                stored_path, "the config.json of a keras-stylegan training run (remove it "
                "or use a new --outdir)", error=ResumeError), self.cfg)
        _checkpoint_for(self.gan, self.checkpoint, latest).restore(
            latest).assert_existing_objects_matched()
        self.resumed_from = latest
        return latest

    def _check_workers_agree(self, latest):
        """Every worker's newest checkpoint number (-1: none), gathered from all
        replicas; `ResumeError` on every worker unless they are all equal."""
        seen = gather_from_workers(self.strategy, checkpoint_number(latest))
        if len(set(seen)) > 1:
            described = ", ".join(f"ckpt-{n}" if n >= 0 else "no checkpoint"
                                  for n in sorted(set(seen), reverse=True))
            raise ResumeError(
                f"The workers see different checkpoints in {self.run_dir}/{CHECKPOINT_DIR} "
                f"({described}; this worker, task {self.task_index}: "
                f"{os.path.basename(latest) if latest else 'none'}). A multi-worker run "
                "needs one run directory shared by every worker (the same --outdir on a "
                "shared file system such as NFS or GCS): every worker resumes from the "
                "chief's checkpoint. Share the folder, or copy the chief's checkpoints/ "
                "to every worker's --outdir, and run the command again.")

    def write_config(self):
        if self.is_chief:
            from keras_stylegan.training.callbacks import write_json_atomic
            write_json_atomic(_jsonable(self.cfg), os.path.join(self.run_dir, "config.json"))

    # Training ----------------------------------------------------------------
    def _stream(self, seg, skip_batches):
        cfg, ds = self.cfg, self.dataset
        seed = int(cfg["seed"]) * 1000 + seg.index
        kwargs = dict(resolution=seg.resolution, mirror=cfg["mirror_augment"],
                      skip_batches=skip_batches)
        if not self.multi_worker:
            return ds.as_tf_dataset(seg.minibatch, seed=seed, **kwargs)

        def per_worker(ctx):
            return ds.as_tf_dataset(ctx.get_per_replica_batch_size(seg.minibatch),
                                    seed=seed + 100003 * ctx.input_pipeline_id, **kwargs)
        return self.strategy.distribute_datasets_from_function(per_worker)

    def _callbacks(self, start_kimg):
        import tensorflow as tf
        from keras_stylegan.training import callbacks as cb
        cfg = self.cfg
        cols, rows = cfg["grid_size"]
        n = int(cols) * int(rows)
        grid_z = np.random.RandomState(cfg["grid_seed"]).randn(n, self.gan.G.z_dim)
        grid_labels = (self.dataset.grid_labels(n, seed=cfg["grid_seed"])
                       if cfg["label_size"] else None)
        self.writer = None
        out = []
        if self.is_chief:
            self.writer = tf.summary.create_file_writer(
                os.path.join(self.run_dir, TENSORBOARD_DIR))
            out.append(cb.ProgressLogger(cfg["total_kimg"], cfg["tick_kimg"], start_kimg,
                                         os.path.join(self.run_dir, "log.txt"),
                                         self.print_fn))
            out.append(cb.TensorBoardScalars(self.writer, cfg["log_steps"]))
        self.snapshots = cb.Snapshots(
            self.run_dir, self.manager, grid_z.astype(np.float32),
            None if grid_labels is None else grid_labels.astype(np.float32),
            cfg["grid_size"], cfg["snap_kimg"], cfg["checkpoint_kimg"], start_kimg,
            self.writer, self.is_chief, resumed=self.resumed_from is not None,
            grid_scale=cfg["grid_scale"], on_snapshot=self._snapshot_metrics())
        out.append(self.snapshots)
        for callback in out:
            callback.set_model(self.gan)
        return out

    def _snapshot_metrics(self):
        """The chief's `train --metrics` hook (`snapshot_metrics.SnapshotMetrics`), or None."""
        if not self.cfg.get("metrics") or not self.is_chief:
            return None
        from keras_stylegan.training.snapshot_metrics import SnapshotMetrics
        return SnapshotMetrics(self.cfg["metrics"], self.run_dir, self.dataset, self.strategy,
                               self.multi_worker, self.writer, self.metric_options,
                               self._log).check(self.gan.Gs)

    def _save_reals(self):
        from keras_stylegan.generate import image_grid, save_png
        from keras_stylegan.ops.basic import to_uint8
        path = os.path.join(self.run_dir, "reals.png")
        if self.is_chief and not os.path.exists(path):
            cols, rows = self.cfg["grid_size"]
            from keras_stylegan.files import write_errors
            from keras_stylegan.training.callbacks import RESUME_HINT
            reals = self.dataset.grid_reals(int(cols) * int(rows), seed=self.cfg["grid_seed"])
            with write_errors("the image grid", path, RESUME_HINT):
                save_png(image_grid(to_uint8(reals), cols=int(cols),
                                    scale=self.cfg["grid_scale"]), path)

    def fit(self):
        """Trains from the current image counter to `total_kimg`; returns a summary dict."""
        gan = self.gan
        start_nimg = int(gan.cur_nimg.numpy())
        seg, done = self.schedule.locate(self.segments, start_nimg)
        callbacks = self._callbacks(start_nimg / 1000.0)
        self._save_reals()
        t0 = time.time()
        try:
            self._fit_segments(seg, done, callbacks)
            self.snapshots.finish()
        finally:
            if self.writer is not None:
                self.writer.close()
            if self.scratch:
                from keras_stylegan.training.callbacks import rmtree
                rmtree(self.scratch)
        end_nimg = int(gan.cur_nimg.numpy())
        seconds = time.time() - t0
        self._log(f"Done: {end_nimg / 1000:.2f} kimg in {seconds:.1f} s"
                  + (f" (resumed at {start_nimg / 1000:.2f} kimg)" if start_nimg else ""))
        return dict(run_dir=self.run_dir, start_nimg=start_nimg, end_nimg=end_nimg,
                    seconds=seconds, checkpoint=self.manager.latest_checkpoint)

    def _fit_segments(self, seg, done, callbacks):
        from keras_stylegan.training.data import dataset_errors
        gan, cfg = self.gan, self.cfg
        if seg is not None:
            for s in self.segments[seg.index:]:
                skip = done if s.index == seg.index else 0
                self._log(f"Level {s.resolution}x{s.resolution} "
                          f"({'fade-in' if s.fading else 'stable'}): images "
                          f"{s.start_nimg + skip * s.minibatch}-{s.end_nimg}, minibatch "
                          f"{s.minibatch}, lr G {s.G_lrate:g} D {s.D_lrate:g}")
                gan.set_resolution(s.resolution)
                gan.set_learning_rates(s.G_lrate, s.D_lrate)
                if skip == 0 and s.index > 0 and cfg["reset_opt_for_new_lod"]:
                    gan.reset_optimizers()
                gan.set_lod(self.schedule.lod(s.start_nimg + skip * s.minibatch))
                with dataset_errors():  # a corrupt record: one error naming the file
                    gan.fit(self._stream(s, skip), epochs=1, steps_per_epoch=s.steps - skip,
                            verbose=0, callbacks=callbacks, shuffle=False)

    def _log(self, line):
        if self.is_chief:
            self.print_fn(line)
            with open(os.path.join(self.run_dir, "log.txt"), "a", encoding="utf-8") as f:
                f.write(line + "\n")


def _variables_by_path(model, key=None):
    """{path: variable} of every weight of `model` ('/' -> '.', checkpoint-safe keys);
    `key` maps a key to the one to use (`renames.old_checkpoint_key`)."""
    out = {}
    for v in model.weights:
        key_ = v.path.replace("/", ".")
        key_ = key(key_) if key else key_
        if key_ in out:
            raise ValueError(f"Two weights of {model.name} share the path {v.path}.")
        out[key_] = v
    return out


def _checkpoint_for(gan, checkpoint, prefix):
    """`checkpoint`, or for a checkpoint written by 0.1 one that reads it: the
    StyleGAN1 weights under their old keys (`networks.renames`), without the
    entries added since (`ADDED_AFTER_0_1`, which keep their initial values)."""
    import tensorflow as tf
    names = [name for name, _ in tf.train.list_variables(prefix)]
    # Weights are stored as 'G/G..synthesis..b8..layer0..conv..kernel/.ATTRIBUTES/...'.
    old_keys = any(renames.is_old_checkpoint_key(n.split("/")[1].replace("..", "."))
                   for n in names if n.count("/") >= 2)
    missing = [k for k in ADDED_AFTER_0_1 if not any(n.startswith(k + "/") for n in names)]
    if not old_keys and not missing:
        return checkpoint
    return make_checkpoint(gan, key=renames.old_checkpoint_key if old_keys else None,
                           skip=missing)


# Checkpoint entries that 0.1 did not write (ADA's state).
ADDED_AFTER_0_1 = ("aug_p", "aug_signs", "aug_rt")


def make_checkpoint(gan, key=None, skip=()):
    """The `tf.train.Checkpoint` of a run: every weight of G, D and Gs by path
    (Keras 3 models do not expose the weights of layers held in lists to
    `tf.train.Checkpoint`), both optimizers with all their variables, the image
    counter, the step counter (which picks the lazy regularization phases), lod,
    the path-length state and ADA's p, sign accumulator and last r_t (`key`,
    `skip`: see `_checkpoint_for`)."""
    import tensorflow as tf
    entries = dict(
        G=_variables_by_path(gan.G, key), D=_variables_by_path(gan.D, key),
        Gs=_variables_by_path(gan.Gs, key),
        G_opt=gan.G_opt, D_opt=gan.D_opt, cur_nimg=gan.cur_nimg, lod=gan.lod,
        num_steps=gan.num_steps, pl_mean=gan.pl_mean, last_reg=gan.last_reg,
        aug_p=gan.aug_p, aug_signs=gan.aug_signs, aug_rt=gan.aug_rt)
    return tf.train.Checkpoint(**{k: v for k, v in entries.items() if k not in skip})


def checkpoint_number(path):
    """N of a `.../ckpt-N` checkpoint prefix; -1 for None.

    >>> checkpoint_number("runs/x/checkpoints/ckpt-64"), checkpoint_number(None)
    (64, -1)
    """
    if path is None:
        return -1
    return int(os.path.basename(path).rsplit("-", 1)[1])


def gather_from_workers(strategy, value):
    """The int `value` of every replica of `strategy` (a collective: every worker
    must call it), as a list."""
    import tensorflow as tf

    @tf.function
    def gather():
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            return ctx.all_gather(tf.constant([int(value)], tf.int64), axis=0)
        return strategy.run(replica_fn)
    local = strategy.experimental_local_results(gather())[0]
    return [int(v) for v in local.numpy()]


def tf_latest_checkpoint(directory):
    import tensorflow as tf
    if not os.path.isdir(directory):
        return None
    return tf.train.latest_checkpoint(directory)


def prepare(cfg, run_dir, dataset=None, gpus=None, cpu_replicas=None, print_fn=print,
            pretrained=None, metric_options=None):
    """Resolves `cfg` for the data and devices and builds the run (no training).

    Args:
        cfg: a config from `training.configs.get` (unresolved).
        run_dir: the run directory.
        dataset: an opened dataset (default: `open_dataset(cfg["data"], ...)`).
        gpus, cpu_replicas: device selection (see `training.distribute.make_strategy`).
        pretrained: with the config key `init`, the network it names
            (`training.pretrained.load(cfg["init"])`), whose weights the run
            starts from. The run's networks are those of the config:
            `training.pretrained.configure` makes them NET's own.
        metric_options: options of the `metrics` computed at each snapshot (see
            `training.snapshot_metrics.SnapshotMetrics`).
    """
    import tensorflow as tf
    if cfg.get("metrics"):
        from keras_stylegan.training.snapshot_metrics import parse
        parse(cfg["metrics"])  # a bad name fails before anything is built
    if cfg.get("deterministic"):
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(gpus, cpu_replicas, cfg["steps_per_execution"])
    if dataset is None:
        from keras_stylegan.training.data import open_dataset
        dataset = open_dataset(cfg["data"], resolution=cfg["resolution"],
                               use_labels=cfg["use_labels"], max_images=cfg["max_images"],
                               builtin_fixed=cfg.get("builtin_fixed"))
    resolved = configs_lib.resolve(cfg, dataset.resolution, dataset.num_channels,
                                   dataset.label_size, strategy.num_replicas_in_sync)
    resolved["strategy"] = distribute.describe(strategy)
    if cfg.get("init"):
        if pretrained is None:
            raise ConfigError(f"The config starts from init={cfg['init']!r}: pass "
                              "pretrained=training.pretrained.load(cfg['init']).")
        pretrained.check_data(dataset.resolution, dataset.num_channels, dataset.label_size,
                              cfg["resolution"])
    return Run(resolved, os.fspath(run_dir), dataset, strategy, print_fn,
               pretrained if cfg.get("init") else None, metric_options)


def train(cfg, run_dir, resume="auto", dataset=None, gpus=None, cpu_replicas=None,
          print_fn=print, pretrained=None, metric_options=None):
    """Trains (or resumes) the run in `run_dir`; returns a summary dict.

    Args:
        resume: 'auto' resumes from the newest checkpoint if there is one;
            True requires one. A run with the config key `init` starts from
            that network (kimg 0, fresh optimizers) when `run_dir` has no
            checkpoint, and otherwise resumes like any run (`init` must be
            the one it started with).
        pretrained: see `prepare`.
        metric_options: see `prepare`.
    """
    run = prepare(cfg, run_dir, dataset, gpus, cpu_replicas, print_fn, pretrained,
                  metric_options)
    created = not os.path.exists(run.run_dir)
    os.makedirs(run.run_dir, exist_ok=True)
    try:
        run.remove_leftovers()
        run.build()
        latest = run.restore(resume)
        run.write_config()
        if latest:
            run._log(f"Resuming from {latest} at "
                     f"{int(run.gan.cur_nimg.numpy()) / 1000:.2f} kimg")
        else:
            for line in run.init_log:
                run._log(line)
        if run.frozen:
            run._log(f"Freeze-D: D's blocks {', '.join(run.frozen)} are not trained")
        run._log(f"Training {run.cfg['resolution']}x{run.cfg['resolution']} on "
                 f"{run.dataset.name} ({run.dataset.num_images} images) with "
                 f"{run.cfg['strategy']}, {run.policy}, to {run.cfg['total_kimg']} kimg")
        return run.fit()
    except BaseException:
        if created:
            remove_empty_tree(run.run_dir)
        raise
    finally:
        keras.config.set_dtype_policy("float32")


def remove_empty_tree(path):
    """Removes `path` if it holds no files (only empty folders): what a run that
    failed before writing anything leaves behind. Returns True if removed."""
    for root, dirs, names in os.walk(path, topdown=False):
        if names:
            return False
        for d in dirs:
            try:
                os.rmdir(os.path.join(root, d))
            except OSError:  # not empty (a file appeared) or not ours to remove
                return False
    try:
        os.rmdir(path)
    except OSError:
        return False
    return True
