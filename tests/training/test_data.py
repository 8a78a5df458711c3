"""Training data: folder / ZIP / TFRecords readers and the tf.data stream.

References are independent of the readers: PIL decodes the files, NumPy pools
and pads, NumPy's Generator gives the epoch orders, and TFRecords files are
parsed record by record with tf.train.Example.
"""

import json
import os
import zipfile

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from keras_stylegan.training import builtin
from keras_stylegan.training.data import epoch_order, open_dataset
from keras_stylegan.training.data.sources import NoLabelsError
from keras_stylegan.training.data.tfrecords import TFRecordsWriter

N = 12
RES = 16


def _save(path, array, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "L" if array.ndim == 2 else "RGB"
    PIL.Image.fromarray(array, mode).save(path, **kwargs)


def _names(n=N):
    # Nested folders; sorted order is the dataset order.
    return [f"{'a' if i < n // 2 else 'b/c'}/img{i:03d}.png" for i in range(n)]


def _pixels(path, mode="RGB"):
    with PIL.Image.open(path) as im:
        return np.asarray(im.convert(mode))


def _float(x):
    return x.astype(np.float32) / 127.5 - 1.0


def _pool(x, factor):
    n, h, w, c = x.shape
    return x.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def _stream(ds, batches=None, **kwargs):
    """(images, labels) of a stream as NumPy arrays, batches concatenated."""
    stream = ds.as_tf_dataset(**kwargs)
    if batches is not None:
        stream = stream.take(batches)
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in stream])
    return np.concatenate(images), np.concatenate(labels)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """N random RGB 16x16 PNGs with label = image index, and their pixels (sorted order)."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    names = _names()
    pixels = rng.integers(0, 256, size=(N, RES, RES, 3), dtype=np.uint8)
    for name, image in zip(names, pixels):
        _save(str(root / name), image)
    labels = [[name, [float(i), 2.0 * i]] for i, name in enumerate(names)]
    (root / "dataset.json").write_text(json.dumps({"labels": labels}))
    (root / "notes.txt").write_text("not an image, not counted")
    return root, pixels


@pytest.fixture(scope="module")
def zipped(folder, tmp_path_factory):
    """The folder's files in a ZIP written with plain zipfile."""
    root, _ = folder
    path = tmp_path_factory.mktemp("zip") / "images.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for dirpath, _, files in os.walk(root):
            for fname in files:
                full = os.path.join(dirpath, fname)
                archive.write(full, os.path.relpath(full, root).replace(os.sep, "/"))
    return path


@pytest.fixture(scope="module")
def tfrecords(folder, tmp_path_factory):
    """The folder's images as NVIDIA TFRecords (r02..r04) with .labels classes."""
    _, pixels = folder
    out = tmp_path_factory.mktemp("records") / "faces"
    with TFRecordsWriter(str(out), RES, 3) as writer:
        for image in pixels:
            writer.add_image(image)
        writer.add_labels(np.arange(N) % 4)
    return out


def _nvidia_levels(image):
    """Independent re-statement of NVIDIA dataset_tool's TFRecordExporter.add_image (CHW)."""
    img = image.transpose(2, 0, 1)
    levels = []
    for lod in range(3):
        if lod:
            img = img.astype(np.float32)
            img = (img[:, 0::2, 0::2] + img[:, 0::2, 1::2] + img[:, 1::2, 0::2]
                   + img[:, 1::2, 1::2]) * 0.25
        levels.append(np.rint(img).clip(0, 255).astype(np.uint8))
    return levels


# --------------------------------------------------------------------------- the sources
def test_folder_reads_the_files_pixels_in_sorted_order(folder):
    root, pixels = folder
    ds = open_dataset(root)
    assert (ds.name, ds.kind, ds.num_images, ds.resolution, ds.num_channels, ds.label_size) \
        == (root.name, "folder", N, RES, 3, 0)
    np.testing.assert_array_equal(np.stack([_pixels(root / n) for n in _names()]), pixels)
    images, labels = _stream(ds, batch_size=5, shuffle=False, repeat=False)
    np.testing.assert_array_equal(images, _float(pixels))
    assert labels.shape == (N, 0) and labels.dtype == np.float32
    assert images.dtype == np.float32


def test_zip_and_tfrecords_give_the_folders_images(folder, zipped, tfrecords):
    root, pixels = folder
    for source in (zipped, tfrecords, tfrecords / "faces-r04.tfrecords"):
        ds = open_dataset(source)
        assert (ds.num_images, ds.resolution, ds.num_channels) == (N, RES, 3), source
        images, _ = _stream(ds, batch_size=4, shuffle=False, repeat=False)
        np.testing.assert_array_equal(images, _float(pixels), err_msg=str(source))
    assert open_dataset(zipped).kind == "zip"
    assert open_dataset(tfrecords).name == "faces"


def test_tfrecords_files_follow_nvidias_format(folder, tfrecords):
    _, pixels = folder
    assert sorted(os.listdir(tfrecords)) == [
        "faces-r02.tfrecords", "faces-r03.tfrecords", "faces-r04.tfrecords", "faces-rxx.labels"]
    for level, res in enumerate((16, 8, 4)):
        file = tfrecords / f"faces-r{4 - level:02d}.tfrecords"
        records = list(tf.data.TFRecordDataset(str(file)))
        assert len(records) == N
        for record, image in zip(records, pixels):
            example = tf.train.Example.FromString(record.numpy())
            shape = list(example.features.feature["shape"].int64_list.value)
            data = example.features.feature["data"].bytes_list.value[0]
            assert shape == [3, res, res]
            chw = np.frombuffer(data, np.uint8).reshape(shape)
            np.testing.assert_array_equal(chw, _nvidia_levels(image)[level])
    labels = np.load(tfrecords / "faces-rxx.labels")  # NVIDIA's: float32 [N, L], one-hot
    assert labels.dtype == np.float32 and labels.shape == (N, 4)
    np.testing.assert_array_equal(labels, np.eye(4)[np.arange(N) % 4])


def test_lower_resolutions_are_2x2_average_pooling(folder, zipped, tfrecords):
    _, pixels = folder
    for res, factor in ((8, 2), (4, 4)):
        reference = _pool(_float(pixels), factor)
        images, _ = _stream(open_dataset(zipped), batch_size=N, resolution=res,
                            shuffle=False, repeat=False)
        np.testing.assert_allclose(images, reference, atol=1e-6)
        # TFRecords read the stored (rounded) level: within half a grey level.
        images, _ = _stream(open_dataset(tfrecords), batch_size=N, resolution=res,
                            shuffle=False, repeat=False)
        stored = np.stack([_nvidia_levels(p)[factor // 2].transpose(1, 2, 0) for p in pixels])
        np.testing.assert_array_equal(images, _float(stored))
        assert np.abs(images - reference).max() <= 0.5 / 127.5 + 1e-6


def test_tfrecords_missing_level_is_pooled_from_the_next_one(folder, tfrecords, tmp_path):
    _, pixels = folder
    for name in ("faces-r04.tfrecords", "faces-r02.tfrecords"):
        os.link(tfrecords / name, tmp_path / name)
    ds = open_dataset(tmp_path / "faces-r02.tfrecords", resolution=8)
    assert ds.resolution == 8
    images, _ = _stream(ds, batch_size=N, shuffle=False, repeat=False)
    np.testing.assert_allclose(images, _pool(_float(pixels), 2), atol=1e-6)


# --------------------------------------------------------------------------- the stream
def test_epoch_order_is_a_numpy_permutation_seeded_by_seed_and_epoch(folder):
    root, _ = folder
    ds = open_dataset(root, use_labels=True)
    _, labels = _stream(ds, batches=6, batch_size=5, seed=7)  # 30 images: 2.5 epochs
    expected = np.concatenate([np.random.default_rng([7, e, 0]).permutation(N)
                               for e in range(3)])[:30]
    np.testing.assert_array_equal(labels[:, 0], expected)
    np.testing.assert_array_equal(labels[:, 1], 2.0 * expected)
    _, unshuffled = _stream(ds, batches=3, batch_size=5, shuffle=False)
    np.testing.assert_array_equal(unshuffled[:, 0], np.arange(15) % N)


def test_streams_are_deterministic_and_seeds_differ(folder):
    root, _ = folder
    ds = open_dataset(root)
    a = _stream(ds, batches=4, batch_size=4, seed=1, mirror=True)[0]
    b = _stream(ds, batches=4, batch_size=4, seed=1, mirror=True)[0]
    c = _stream(ds, batches=4, batch_size=4, seed=2, mirror=True)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("source", ["folder", "zipped", "tfrecords", "builtin"])
def test_skip_batches_resumes_exactly(source, request):
    path = "builtin:30" if source == "builtin" else request.getfixturevalue(source)
    if source == "folder":
        path = path[0]
    ds = open_dataset(path, use_labels=source != "zipped")
    full = _stream(ds, batches=9, batch_size=5, seed=3, mirror=True)
    resumed = _stream(ds, batches=4, batch_size=5, seed=3, mirror=True, skip_batches=5)
    np.testing.assert_array_equal(resumed[0], full[0][25:])
    np.testing.assert_array_equal(resumed[1], full[1][25:])
    by_images = _stream(ds, batches=2, batch_size=5, seed=3, mirror=True, skip_batches=2,
                        skip_images=3)
    np.testing.assert_array_equal(by_images[0], full[0][13:23])


def test_skipped_images_are_not_decoded():
    ds = open_dataset("builtin:50")
    calls = []
    render = ds.source.render
    ds.source.render = lambda index: (calls.append(int(index)), render(index))[1]
    stream = ds.as_tf_dataset(8, seed=0, skip_batches=1000)  # 8000 images = 160 epochs
    images, _ = next(iter(stream))
    assert images.shape == (8, 32, 32, 3)
    assert len(calls) < 200  # the first batch and some prefetching, not 8000 images
    expected = epoch_order(50, 0, 160)[0][:8]  # (parallel decoding: calls come unordered)
    assert set(expected) <= set(calls)
    np.testing.assert_array_equal(images, _float(np.stack([render(i) for i in expected])))


def test_mirror_flips_are_decided_by_seed_index_and_epoch(folder):
    root, pixels = folder
    ds = open_dataset(root, use_labels=True)
    images, labels = _stream(ds, batches=12, batch_size=4, seed=5, mirror=True)  # 4 epochs
    flipped = []
    for position, (image, label) in enumerate(zip(images, labels)):
        index, epoch = int(label[0]), position // N
        original = _float(pixels[index])
        expect_flip = np.random.default_rng([5, epoch, 1]).random(N)[index] < 0.5
        np.testing.assert_array_equal(image, original[:, ::-1] if expect_flip else original)
        flipped.append(expect_flip)
    assert 0.25 < np.mean(flipped) < 0.75
    plain, _ = _stream(ds, batches=3, batch_size=4, seed=5)
    np.testing.assert_array_equal(plain, _float(pixels)[labels[:12, 0].astype(int)])


def test_repeat_false_gives_one_epoch_with_a_partial_last_batch(folder):
    ds = open_dataset(folder[0], use_labels=True)
    batches = list(ds.as_tf_dataset(5, seed=1, repeat=False))
    assert [int(x.shape[0]) for x, _ in batches] == [5, 5, 2]
    seen = np.concatenate([y.numpy()[:, 0] for _, y in batches])
    assert sorted(seen) == list(range(N))
    assert list(ds.as_tf_dataset(5, repeat=False, skip_batches=3)) == []


def test_repeated_stream_has_a_static_batch_shape(folder):
    spec = open_dataset(folder[0]).as_tf_dataset(4, resolution=8).element_spec
    assert spec[0].shape.as_list() == [4, 8, 8, 3]
    assert spec[1].shape.as_list() == [4, 0]


def test_grid_reals(folder):
    root, pixels = folder
    ds = open_dataset(root, use_labels=True)
    grid = ds.grid_reals(20, seed=1)
    assert grid.shape == (20, RES, RES, 3) and grid.dtype == np.float32
    indices = ds.grid_indices(20, seed=1)
    np.testing.assert_array_equal(grid, _float(pixels[indices]))
    assert sorted(indices[:N]) == list(range(N))  # all images before any repeats
    np.testing.assert_array_equal(ds.grid_labels(20, seed=1)[:, 0], indices)
    np.testing.assert_array_equal(ds.grid_reals(20, seed=1), grid)


def test_argument_errors_name_the_problem(folder):
    ds = open_dataset(folder[0])
    with pytest.raises(ValueError, match="power of two between 4 and 16"):
        ds.as_tf_dataset(4, resolution=32)
    with pytest.raises(ValueError, match="power of two"):
        ds.as_tf_dataset(4, resolution=12)
    with pytest.raises(ValueError, match="batch_size"):
        ds.as_tf_dataset(0)
    with pytest.raises(ValueError, match="skip_batches"):
        ds.as_tf_dataset(4, skip_batches=-1)
    with pytest.raises(ValueError, match="builtin:N"):
        open_dataset("builtin:x")


# --------------------------------------------------------------------------- labels
def test_labels_from_dataset_json(folder, zipped, tmp_path):
    root, _ = folder
    for source in (root, zipped):
        ds = open_dataset(source, use_labels=True)
        assert ds.label_size == 2
        np.testing.assert_array_equal(ds.labels, [[i, 2 * i] for i in range(N)])
    classes = [[name, i % 3] for i, name in enumerate(_names())]
    (tmp_path / "classes.json").write_text(json.dumps({"labels": classes}))
    ds = open_dataset(root, use_labels=True, label_file=tmp_path / "classes.json")
    np.testing.assert_array_equal(ds.labels, np.eye(3)[np.arange(N) % 3])
    _, labels = _stream(ds, batch_size=N, shuffle=False, repeat=False)
    np.testing.assert_array_equal(labels, np.eye(3)[np.arange(N) % 3])


def test_builtin_labels_of_chosen_factors(folder):
    """use_labels="shape": the built-in dataset's stream carries the 5 shape columns;
    factor names on any other source are a clear error."""
    ds = open_dataset("builtin:64", resolution=16, use_labels="shape")
    expected = builtin.BuiltinShapes(num_images=64).labels(factors="shape")
    assert ds.label_size == 5 and ds.label_names == builtin.label_names("shape")
    np.testing.assert_array_equal(ds.labels, expected)
    with pytest.raises(ValueError, match="not the built-in dataset: use use_labels=True"):
        open_dataset(folder[0], use_labels="shape")


def test_builtin_with_fixed_factors(folder):
    """builtin_fixed: the stream draws the fixed-factor set's images; on any other
    source it is a clear error."""
    fixed = {"x": 0.5, "y": 0.5}
    ds = open_dataset("builtin:32", resolution=16, builtin_fixed=fixed)
    images, _ = _stream(ds, batch_size=32, shuffle=False, repeat=False)
    expected = builtin.BuiltinShapes(num_images=32, fixed=fixed).images(np.arange(32), 16)
    np.testing.assert_array_equal(images, _float(expected))
    assert not np.array_equal(expected, builtin.BuiltinShapes(32).images(np.arange(32), 16))
    with pytest.raises(ValueError, match=r"built-in dataset: remove it \(--set builtin_fixed=null"):
        open_dataset(folder[0], builtin_fixed=fixed)


def test_tfrecords_labels(tfrecords):
    ds = open_dataset(tfrecords, use_labels=True)
    np.testing.assert_array_equal(ds.labels, np.eye(4)[np.arange(N) % 4])


def test_label_errors(folder, tmp_path):
    root, _ = folder
    partial = [[name, 1] for name in _names()[:-1]]
    (tmp_path / "partial.json").write_text(json.dumps({"labels": partial}))
    with pytest.raises(ValueError, match=r"no label for 1 of 12 images \(e\.g\. b/c/img011"):
        open_dataset(root, use_labels=True, label_file=tmp_path / "partial.json")
    _save(str(tmp_path / "plain" / "x.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(NoLabelsError, match="use_labels=True but .* has no labels"):
        open_dataset(tmp_path / "plain", use_labels=True)
    assert open_dataset(tmp_path / "plain").label_size == 0


# --------------------------------------------------------------------------- image files
def test_grayscale_folder_has_one_channel(tmp_path):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    for i, image in enumerate(gray):
        _save(str(tmp_path / f"g{i}.png"), image)
    ds = open_dataset(tmp_path)
    assert ds.num_channels == 1
    images, _ = _stream(ds, batch_size=3, shuffle=False, repeat=False)
    np.testing.assert_array_equal(images, _float(gray[..., None]))


def test_mixed_gray_and_rgb_become_rgb(tmp_path):
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    rgb = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    _save(str(tmp_path / "a.png"), gray)
    _save(str(tmp_path / "b.png"), rgb)
    ds = open_dataset(tmp_path)
    assert ds.num_channels == 3
    images, _ = _stream(ds, batch_size=2, shuffle=False, repeat=False)
    np.testing.assert_array_equal(images[0], _float(np.repeat(gray[..., None], 3, axis=2)))
    np.testing.assert_array_equal(images[1], _float(rgb))


def test_non_square_images_are_padded_to_centred_squares(tmp_path):
    rng = np.random.default_rng(3)
    wide = rng.integers(1, 256, (10, 16, 3), dtype=np.uint8)    # h=10, w=16
    tall = rng.integers(1, 256, (16, 6, 3), dtype=np.uint8)     # h=16, w=6
    _save(str(tmp_path / "a_wide.png"), wide)
    _save(str(tmp_path / "b_tall.png"), tall)
    ds = open_dataset(tmp_path)
    assert ds.resolution == 16
    expected = np.zeros((2, 16, 16, 3), np.uint8)
    expected[0, 3:13] = wide        # (16 - 10) // 2 = 3 rows of black above
    expected[1, :, 5:11] = tall     # (16 - 6) // 2 = 5 columns of black left
    images, _ = _stream(ds, batch_size=2, shuffle=False, repeat=False)
    np.testing.assert_array_equal(images, _float(expected))


def test_larger_images_are_resized_and_smaller_ones_skipped(tmp_path):
    rng = np.random.default_rng(4)
    same = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    big = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    odd = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    _save(str(tmp_path / "a.png"), same[0])
    _save(str(tmp_path / "b.png"), same[1])
    _save(str(tmp_path / "c_big.png"), big)
    _save(str(tmp_path / "d_odd.png"), odd)
    _save(str(tmp_path / "e_small.png"), same[0][:4, :4])
    with pytest.warns(UserWarning, match=r"Skipped 1 of 5 image files") as record:
        ds = open_dataset(tmp_path)
    assert "e_small.png: 4x4 is smaller than the dataset resolution 8x8" in str(
        record[0].message)
    assert ds.resolution == 8 and ds.num_images == 4
    images, _ = _stream(ds, batch_size=4, shuffle=False, repeat=False)
    np.testing.assert_array_equal(images[:2], _float(same))
    block_mean = big.reshape(8, 4, 8, 4, 3).mean(axis=(1, 3))
    np.testing.assert_array_equal(images[2], _float(np.rint(block_mean).astype(np.uint8)))
    weights = _area_weights(12, 8)  # each output pixel averages 1.5 x 1.5 input pixels
    area = np.einsum("ij,jkc,lk->ilc", weights, odd.astype(np.float64), weights)
    np.testing.assert_array_equal(images[3], _float(np.rint(area).astype(np.uint8)))
    # An explicit resolution: everything becomes 4x4.
    ds4 = open_dataset(tmp_path, resolution=4)
    assert (ds4.resolution, ds4.num_images, ds4.skipped) == (4, 5, [])


def _area_weights(size, new_size):
    """[new_size, size] exact area-averaging weights of a 1-D resize."""
    scale = size / new_size
    weights = np.zeros((new_size, size))
    for i in range(new_size):
        for j in range(size):
            weights[i, j] = max(0.0, min((i + 1) * scale, j + 1) - max(i * scale, j)) / scale
    return weights


def test_unreadable_files_are_skipped_and_reported(folder, tmp_path):
    root, pixels = folder
    for i in range(3):
        _save(str(tmp_path / f"ok{i}.png"), pixels[i])
    (tmp_path / "bad.png").write_bytes(b"this is not a png at all")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "gif.png").write_bytes(_gif_bytes())
    (tmp_path / "readme.md").write_text("ignored: not an image extension")
    with pytest.warns(UserWarning, match=r"Skipped 3 of 6 image files in ") as record:
        ds = open_dataset(tmp_path)
    message = str(record[0].message)
    for name in ("bad.png: unreadable", "empty.jpg: unreadable", "gif.png: unreadable"):
        assert name in message
    assert "GIF data, expected PNG or JPEG" in message
    assert [name for name, _ in ds.skipped] == ["bad.png", "empty.jpg", "gif.png"]
    assert ds.num_images == 3
    images, _ = _stream(ds, batch_size=3, shuffle=False, repeat=False)
    np.testing.assert_array_equal(images, _float(pixels[:3]))


def _gif_bytes():
    import io
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (8, 8)).save(buffer, "GIF")
    return buffer.getvalue()


def test_empty_and_missing_sources_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"No usable images in .*empty: looked for \*\.png, "
                                         r"\*\.jpg, \*\.jpeg \(recursively\); found 0"):
        os.mkdir(tmp_path / "empty")
        open_dataset(tmp_path / "empty")
    os.mkdir(tmp_path / "broken")
    (tmp_path / "broken" / "x.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"found 1 image files, all skipped: x\.png: "
                                         "unreadable"):
        open_dataset(tmp_path / "broken")
    with pytest.raises(FileNotFoundError, match="does not exist. Expected 'builtin'"):
        open_dataset(tmp_path / "nowhere")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("readme.txt", "no images")
    with pytest.raises(ValueError, match=r"No usable images in .*empty\.zip.*in the archive"):
        open_dataset(tmp_path / "empty.zip")
    (tmp_path / "fake.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid ZIP file"):
        open_dataset(tmp_path / "fake.zip")


def test_jpeg_decodes_like_pil(tmp_path):
    rng = np.random.default_rng(5)
    smooth = np.clip(rng.normal(128, 20, (1, 4, 4, 3)).repeat(4, 1).repeat(4, 2), 0, 255)
    _save(str(tmp_path / "a.jpg"), smooth[0].astype(np.uint8), quality=95)
    ds = open_dataset(tmp_path)
    images, _ = _stream(ds, batch_size=1, shuffle=False, repeat=False)
    reference = _pixels(tmp_path / "a.jpg").astype(np.float32)
    difference = np.abs((images[0] + 1) * 127.5 - reference)
    assert difference.max() <= 2 and difference.mean() < 0.5


def test_max_images(folder, tfrecords):
    root, pixels = folder
    for source in (root, tfrecords, "builtin:40"):
        ds = open_dataset(source, max_images=5, use_labels=True)
        assert ds.num_images == 5 and len(ds.labels) == 5
    images, _ = _stream(open_dataset(root, max_images=5), batch_size=5, shuffle=False,
                        repeat=False)
    np.testing.assert_array_equal(images, _float(pixels[:5]))


def test_builtin_source(tmp_path):
    from keras_stylegan.training import builtin
    ds = open_dataset("builtin:64", resolution=16, use_labels=True)
    assert (ds.name, ds.kind, ds.num_images, ds.resolution, ds.label_size) == (
        "builtin", "builtin", 64, 16, builtin.LABEL_SIZE)
    images, labels = _stream(ds, batch_size=64, shuffle=False, repeat=False)
    shapes = builtin.BuiltinShapes(64)
    np.testing.assert_array_equal(images, _float(shapes.images(np.arange(64), 16)))
    np.testing.assert_array_equal(labels, shapes.labels())
    np.testing.assert_array_equal(ds.factors([3])["x"], shapes.factors([3])["x"])
    assert open_dataset("builtin").num_images == 10000
    assert open_dataset("builtin").resolution == 32
    _save(str(tmp_path / "x.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="Only the built-in dataset has known factors"):
        open_dataset(tmp_path).factors()
