"""Image generation helpers: seeds, compiled generation, PNG files and grids.

Example:

>>> from keras_stylegan import generate, presets
>>> G = presets.generator("stylegan-tiny-32")
>>> gen = generate.ImageGenerator(G, truncation_psi=0.7, noise_mode="const")
>>> images = gen.from_seeds([0, 1, 2])      # uint8 NHWC NumPy array
>>> images.shape
(3, 32, 32, 3)
"""

import re

import keras
import numpy as np

from keras_stylegan import files
from keras_stylegan.layers.common import check_noise_mode
from keras_stylegan.networks.generator import DEFAULT
from keras_stylegan.noise import seed_noise
from keras_stylegan.ops.basic import to_uint8_tensor


def parse_seeds(text):
    """'0-3,7' -> [0, 1, 2, 3, 7]. Raises ValueError naming the bad part."""
    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"Bad seed range {part!r} in {text!r}; use e.g. '0-7,12'.")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"Bad seed range {part!r}: the end is below the start.")
        seeds.extend(range(lo, hi + 1))
    return seeds


def latents_from_seeds(seeds, z_dim):
    """z of each seed as NVIDIA's scripts make it: `RandomState(seed).randn(1, z_dim)`."""
    return np.concatenate(
        [np.random.RandomState(s).randn(1, z_dim) for s in seeds]).astype(np.float32)


def compile_function(fn, jit_compile=False):
    """Compiles `fn` with the backend's compiler (tf.function / jax.jit); torch: as is."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
    if backend == "jax":
        import jax
        return jax.jit(fn)
    return fn


class ImageGenerator:
    """A generator wrapped for repeated generation without retracing.

    Args:
        G: a `Generator`.
        truncation_psi: truncation strength (1 = none).
        truncation_cutoff: layers to truncate ('default': the generator's).
        noise_mode: 'const', 'random' or 'none'. 'random' noise is drawn from
            each image's seed (`keras_stylegan.noise`) by `from_seeds`, and
            from the `seeds` given to `__call__`.
        noise_seed: a second seed of the random noise (0: the seed's own
            noise, as a SavedModel's `seed` input).
        jit_compile: compile with XLA (TensorFlow backend).
        compiled: set False to run eagerly.
    """

    def __init__(self, G, truncation_psi=1.0, truncation_cutoff=DEFAULT,
                 noise_mode="const", noise_seed=0, jit_compile=False, compiled=True):
        check_noise_mode(noise_mode)
        self.noise_seed = int(noise_seed)
        self.G = G
        self.truncation_psi = float(truncation_psi)
        self.truncation_cutoff = truncation_cutoff
        self.noise_mode = noise_mode

        def run(z, labels, psi, noise):
            img = G(z, labels=labels, truncation_psi=psi,
                    truncation_cutoff=truncation_cutoff, noise_mode=noise_mode, noise=noise)
            return img, to_uint8_tensor(img)

        self._run = compile_function(run, jit_compile) if compiled else run

    def __call__(self, z, labels=None, seeds=None):
        """z [N, z_dim] (+ labels) -> (float images in [-1, 1], uint8 images), NumPy NHWC.

        With `noise_mode='random'`, `seeds` (one per z) give the noise maps;
        without them the noise is fresh (not reproducible).
        """
        z = np.asarray(z, np.float32)
        labels = self._labels(labels, len(z))
        psi = np.full([len(z)], self.truncation_psi, np.float32)
        noise = None
        if self.noise_mode == "random" and seeds is not None:
            noise = seed_noise(seeds, self.G.synthesis.noise_shapes, self.noise_seed)
        img, u8 = self._run(z, labels, psi, noise)
        return keras.ops.convert_to_numpy(img), keras.ops.convert_to_numpy(u8)

    def _labels(self, labels, n):
        size = self.G.label_size
        if labels is None:
            return None if size == 0 else np.zeros([n, size], np.float32)
        labels = np.asarray(labels, np.float32).reshape(n, -1)
        if labels.shape[1] != size:
            raise ValueError(f"labels must have shape [N, {size}]; received {labels.shape}.")
        return labels

    def from_seeds(self, seeds, labels=None, batch_size=8):
        """uint8 NHWC images, one per seed (z as NVIDIA's scripts make it; random
        noise from the seed and `noise_seed`)."""
        z = latents_from_seeds(seeds, self.G.z_dim)
        out = []
        for i in range(0, len(z), batch_size):
            lab = None if labels is None else labels[i:i + batch_size]
            out.append(self(z[i:i + batch_size], lab, seeds=seeds[i:i + batch_size])[1])
        return np.concatenate(out)


def class_labels(class_idx, label_size, n):
    """One-hot labels [n, label_size] for `class_idx` (None -> None)."""
    if class_idx is None:
        return None
    if not 0 <= class_idx < label_size:
        raise ValueError(f"class index {class_idx} out of range for label_size {label_size}.")
    labels = np.zeros([n, label_size], np.float32)
    labels[:, class_idx] = 1
    return labels


def seed_class_plan(seeds, classes, label_size):
    """What a generate command draws: every seed for each class in turn.

    Args:
        seeds: list of ints.
        classes: list of class indices, or None for an unconditional network.
        label_size: the network's label size (0: unconditional).

    Returns:
        (seeds, labels, names): the seed of each image, its one-hot labels
        [N, label_size] (None when unconditional) and its file name
        (`seedSSSS.png`; `classC-seedSSSS.png` when several classes are asked
        for, so that a grid with `cols=len(seeds)` has one row per class).

    >>> s, labels, names = seed_class_plan([3, 4], [0, 2], 3)
    >>> s, labels.argmax(1).tolist(), names[2]
    ([3, 4, 3, 4], [0, 0, 2, 2], 'class2-seed0003.png')
    """
    if not label_size:
        if classes is not None:
            raise ValueError("the network is unconditional: leave out --class")
        return list(seeds), None, [f"seed{s:04d}.png" for s in seeds]
    if not classes:
        raise ValueError(f"the network is conditional ({label_size} classes): pass --class, "
                         f"e.g. --class 0 or --class 0-{label_size - 1} (a grid row per class)")
    labels = np.concatenate([class_labels(c, label_size, len(seeds)) for c in classes])
    prefix = (lambda c: "") if len(classes) == 1 else (lambda c: f"class{c}-")
    names = [f"{prefix(c)}seed{s:04d}.png" for c in classes for s in seeds]
    return list(seeds) * len(classes), labels, names


def image_grid(images, cols=None, scale=1):
    """Tiles uint8 NHWC images into one [rows*H*scale, cols*W*scale, C] image.

    `scale` > 1 enlarges every pixel to a scale x scale block (nearest
    neighbour), for looking at small images.

    >>> image_grid(np.zeros((5, 4, 4, 3), np.uint8), cols=3, scale=2).shape
    (16, 24, 3)
    """
    images = np.asarray(images)
    scale = int(scale)
    if scale < 1:
        raise ValueError(f"scale must be an integer >= 1; received {scale}.")
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w, c = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.zeros([rows * h, cols * w, c], images.dtype)
    for i, img in enumerate(images):
        r, q = divmod(i, cols)
        grid[r * h:(r + 1) * h, q * w:(q + 1) * w] = img
    return grid


def save_png(image, path):
    """Writes a uint8 HWC image (C = 1 or 3) as PNG, atomically (temp file + rename)."""
    from PIL import Image
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    with files.atomic_file(path, "the image") as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def save_gif(frames, path, fps=10):
    """Writes uint8 NHWC frames (C = 1 or 3) as a looping animated GIF, atomically.

    Pillow quantizes each frame to 256 colours; `fps` is frames per second.
    """
    from PIL import Image
    frames = np.asarray(frames)
    if frames.ndim == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    if not 1 <= fps <= 100:
        raise ValueError(f"fps must be in [1, 100]; received {fps}.")
    images = [Image.fromarray(f) for f in frames]
    with files.atomic_file(path, "the animation") as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(round(1000 / fps)), loop=0)
