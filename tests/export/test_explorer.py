"""The style explorer's server side: style mixing, the in-process servable of
`keras-stylegan explore`, the page's files and the explore command's errors.

A real uvicorn server runs in a thread on 127.0.0.1 over a `GeneratorServable`
(no export step); its images are checked against the Keras generator called
directly (z, noise and the mixed ws built here, with a plain loop), the
layer presets against the StyleGAN paper's table, and the build of a copy of
the source for the page's files.
"""

import io
import json
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from helpers.http_client import request as http_request
from helpers.noisy import noisy_generator
from keras_stylegan import cli, to_uint8
from keras_stylegan.export import explorer, mixing
from keras_stylegan.export.noise import seed_noise_np
from keras_stylegan.export.rest import RestError
from keras_stylegan.generate import latents_from_seeds

MAX_BATCH = 12


# Layer presets and the mixing arithmetic ------------------------------------------------------

@pytest.mark.parametrize("resolution,expected", [
    # The paper's Figure 3 ranges: coarse 4-8 px, middle 16-32 px, fine 64 px up to the output,
    # two style layers per resolution from 4x4 (so 2 * log2(res) - 2 layers).
    (1024, {"coarse": "0-3", "middle": "4-7", "fine": "8-17"}),
    (256, {"coarse": "0-3", "middle": "4-7", "fine": "8-13"}),
    (32, {"coarse": "0-3", "middle": "4-7", "fine": ""}),
    (8, {"coarse": "0-3", "middle": "", "fine": ""}),
])
def test_style_presets_follow_the_papers_resolutions(resolution, expected):
    num_ws = 2 * int(np.log2(resolution)) - 2
    assert mixing.style_presets(num_ws) == expected


def test_style_layers_parse_ranges_and_refuse_bad_ones():
    assert mixing.style_layers("fine", 18) == list(range(8, 18))
    assert mixing.style_layers(" 5, 0-2,1 ", 8) == [0, 1, 2, 5]
    for text, words in [("fine", "no fine style layers"), ("8", "[0, 7]"),
                        ("0-99999999999999999999", "[0, 7]"), ("1-x", "Bad style layer"),
                        ("", "styles is empty"), ("3-1", "below the start")]:
        with pytest.raises(RestError, match=words.replace("[", r"\[").replace("]", r"\]")) as e:
            mixing.style_layers(text, 8)
        assert e.value.status == 400


def test_mix_ws_and_figure_layout_match_a_loop():
    rs = np.random.RandomState(0)
    rows, cols = rs.randn(2, 6, 3), rs.randn(3, 6, 3)
    layers = [1, 4, 5]
    mixed = mixing.mix_ws(rows, cols, layers)
    for i in range(2):
        for j in range(3):
            for layer in range(6):
                src = cols[j] if layer in layers else rows[i]
                np.testing.assert_array_equal(mixed[i * 3 + j, layer], src[layer])
    imgs = rs.randint(0, 256, (2 + 3 + 6, 4, 5, 1)).astype(np.uint8)
    canvas = mixing.figure_layout(imgs[:2], imgs[2:5], imgs[5:])
    assert canvas.shape == (3 * 4, 4 * 5, 1)
    assert not canvas[:4, :5].any()
    for j in range(3):
        np.testing.assert_array_equal(canvas[:4, (j + 1) * 5:(j + 2) * 5], imgs[2 + j])
    for i in range(2):
        np.testing.assert_array_equal(canvas[(i + 1) * 4:(i + 2) * 4, :5], imgs[i])
        for j in range(3):
            np.testing.assert_array_equal(
                canvas[(i + 1) * 4:(i + 2) * 4, (j + 1) * 5:(j + 2) * 5], imgs[5 + i * 3 + j])


# A server over an in-process generator ----------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    from keras_stylegan.export.inprocess import GeneratorServable
    from keras_stylegan.export.server import Limits, ModelRepository, bind_socket, make_server

    G = noisy_generator("stylegan-tiny-32")
    repo = ModelRepository().add_servable(GeneratorServable("tiny", G), warm_up=False)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    srv = make_server(repo, limits=Limits(max_batch=MAX_BATCH))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started and thread.is_alive() and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    try:
        yield dict(port=port, G=G)
    finally:
        srv.should_exit = True
        thread.join(30)
        sock.close()


def get(server, path):
    return http_request(server["port"], "GET", path, timeout=120)


def png(data):
    return np.asarray(Image.open(io.BytesIO(data))).astype(int)


def keras_images(G, ws, noise_seeds=None):
    """uint8 images of G's synthesis network for `ws`; stored noise, or noise from seeds."""
    kw = {"noise_mode": "const"} if noise_seeds is None else {
        "noise": seed_noise_np(np.asarray(noise_seeds), G.synthesis.noise_shapes)}
    return to_uint8(G.synthesis(ws, **kw)).astype(int)


def keras_ws(G, seeds, psi):
    ws = G.mapping(latents_from_seeds(seeds, G.z_dim))
    return np.asarray(G.truncate(ws, psi, G.truncation_cutoff))


def test_model_list_describes_the_network(server):
    status, ctype, data = get(server, "/v1/models")
    assert (status, ctype) == (200, "application/json")
    body = json.loads(data)
    G = server["G"]
    (model,) = body["models"]
    assert model == {"name": "tiny", "version": 1, "kind": "generator", "resolution": 32,
                     "channels": 3, "z_dim": G.z_dim, "label_size": 0,
                     "noise_modes": ["seed", "const"], "num_ws": G.num_ws,
                     "style_presets": {"coarse": "0-3", "middle": "4-7", "fine": ""}}
    assert body["limits"] == {"max_batch": MAX_BATCH} and body["failed"] == {}


def test_image_endpoint_runs_the_generator_in_process(server):
    G = server["G"]
    status, ctype, data = get(server, "/v1/models/tiny/image?seeds=4&psi=0.6&noise=const")
    assert (status, ctype) == (200, "image/png")
    expected = keras_images(G, keras_ws(G, [4], 0.6))[0]
    assert np.abs(png(data) - expected).max() <= 1
    status, _, data = get(server, "/v1/models/tiny/image?seeds=4&psi=0.6")  # noise from seed 4
    assert status == 200
    expected = keras_images(G, keras_ws(G, [4], 0.6), noise_seeds=[4])[0]
    assert np.abs(png(data) - expected).max() <= 1
    assert np.abs(expected - keras_images(G, keras_ws(G, [4], 0.6))[0]).max() > 20  # noise shows


@pytest.mark.parametrize("noise", ["const", "seed"])
def test_mix_figure_matches_the_keras_generator(server, noise):
    G = server["G"]
    rows, cols, psi, layers = [1, 2], [5, 6, 7], 0.8, [0, 1, 6]
    status, ctype, data = get(server, f"/v1/models/tiny/mix?rows=1-2&cols=5-7&styles=0-1,6"
                              f"&psi={psi}&noise={noise}")
    assert (status, ctype) == (200, "image/png"), data[:300]
    fig = png(data)
    assert fig.shape == (3 * 32, 4 * 32, 3)
    w_rows, w_cols = keras_ws(G, rows, psi), keras_ws(G, cols, psi)
    seeds = (lambda s: s) if noise == "seed" else (lambda s: None)
    src_rows = keras_images(G, w_rows, seeds(rows))
    src_cols = keras_images(G, w_cols, seeds(cols))
    assert not fig[:32, :32].any()
    for j in range(3):
        assert np.abs(fig[:32, 32 * (j + 1):32 * (j + 2)] - src_cols[j]).max() <= 1
    for i, row in enumerate(rows):
        assert np.abs(fig[32 * (i + 1):32 * (i + 2), :32] - src_rows[i]).max() <= 1
        for j in range(3):
            w = w_rows[i].copy()
            w[layers] = w_cols[j][layers]  # NVIDIA: w[col_styles] = w_col[col_styles]
            cell = keras_images(G, w[None], seeds([row]))[0]  # the row's noise
            got = fig[32 * (i + 1):32 * (i + 2), 32 * (j + 1):32 * (j + 2)]
            assert np.abs(got - cell).max() <= 1, (i, j)
    # The sources are the images of the PNG endpoint (a second code path), and a
    # one-cell grid is the figure's cell.
    status, _, data = get(server, f"/v1/models/tiny/image?seeds=5&psi={psi}&noise={noise}")
    assert np.abs(png(data) - fig[:32, 32:64]).max() <= 1
    status, _, data = get(server, f"/v1/models/tiny/mix?rows=2&cols=6&styles=0-1,6&psi={psi}"
                          f"&noise={noise}&layout=grid")
    assert status == 200 and np.array_equal(png(data), fig[64:96, 64:96])


def test_mixing_all_layers_gives_the_column_image(server):
    status, _, data = get(server, "/v1/models/tiny/mix?rows=0-1&cols=3&styles=0-7"
                          "&noise=const&layout=grid")
    assert status == 200
    _, _, col = get(server, "/v1/models/tiny/image?seeds=3&noise=const")
    grid = png(data)
    assert grid.shape == (64, 32, 3)
    assert np.abs(grid[:32] - png(col)).max() <= 1 and np.abs(grid[32:] - png(col)).max() <= 1


@pytest.mark.parametrize("query,words", [
    ("rows=0-3&cols=0-3", "make 24 images (sources included), over this server's limit of 12"),
    ("rows=0-2&cols=0-2&layout=grid&styles=0", None),  # 9 mixes, no sources: allowed
    ("rows=0-0000004000000000&cols=1", "over this server's limit"),  # before expanding
    ("rows=4294967296&cols=1", "below 2**32"),
    ("rows=1", "Pass cols=SEEDS"),
    ("rows=1&cols=2&styles=fine", "no fine style layers"),
    ("rows=1&cols=2&styles=8", "[0, 7]"),
    ("rows=1&cols=2&noise=random", "noise must be"),
    ("rows=1&cols=2&class=1", "not conditional"),
    ("rows=1&cols=2&layout=poster", "layout must be"),
    ("rows=1&cols=2&psi=nan", "psi must be"),
    ("rows=1&cols=2&seeds=3", "Unknown query parameter"),
])
def test_mix_refuses_bad_requests_with_one_clear_error(server, query, words):
    status, ctype, data = get(server, f"/v1/models/tiny/mix?{query}")
    if words is None:
        assert (status, ctype) == (200, "image/png")
        assert png(data).shape == (3 * 32, 3 * 32, 3)
        return
    assert (status, ctype) == (400, "application/json"), data[:300]
    assert words in json.loads(data)["error"]


def test_mix_needs_mapping_and_synthesis_signatures():
    """A .tflite model has only `serving_default`: mixing is refused with what to do."""
    class OneSignature:
        kind, signatures = "tflite", {"serving_default": None}
    with pytest.raises(RestError, match="keras-stylegan explore") as e:
        mixing.check_mixing(OneSignature())
    assert e.value.status == 400


# The page -------------------------------------------------------------------------------------

def test_the_page_and_its_files_are_served_with_a_strict_policy(server):
    page = explorer.assets()
    for path, name in [("/", "index.html"), ("/explorer.js", "explorer.js"),
                       ("/explorer.css", "explorer.css")]:
        status, ctype, data = get(server, path)
        assert status == 200 and data == page.files[name][0]
        assert ctype == page.files[name][1]
    conn_headers = _headers(server["port"], "/")
    assert "default-src 'none'" in conn_headers["content-security-policy"]
    assert conn_headers["x-content-type-options"] == "nosniff"
    # Nothing from another origin: no absolute URLs in the page's files.
    for body, _ in page.files.values():
        assert b"http://" not in body and b"https://" not in body and b"//cdn" not in body
    status, ctype, data = get(server, "/server.py")  # only the page's own files
    assert (status, ctype) == (404, "application/json") and b"explorer is at /" in data
    status, ctype, data = get(server, "/..%2fserver.py")
    assert (status, ctype) == (404, "application/json") and b"import" not in data


def _headers(port, path):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def test_the_build_installs_the_page(tmp_path):
    """setup.py's package_data ships every file of the page: setuptools' build_py (what a
    wheel or an install copies) run on a copy of the source, offline."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("keras_stylegan", "training", "export"):
        shutil.copytree(REPO / folder, src / folder, ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    out = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib",
                          str(tmp_path / "lib")], cwd=src, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    installed = tmp_path / "lib" / "keras_stylegan" / "export" / "explorer"
    for name in explorer.FILES:
        assert (installed / name).read_bytes() == (REPO / "export" / "explorer" / name
                                                   ).read_bytes()
    assert explorer.assets(str(installed)).files.keys() == explorer.FILES.keys()


def test_missing_page_files_are_one_clear_error(tmp_path):
    (tmp_path / "index.html").write_text("<html></html>")
    with pytest.raises(FileNotFoundError, match="explorer.js is missing.*reinstall"):
        explorer.assets(str(tmp_path))


# keras-stylegan explore: errors before anything runs ---------------------------------------------

def test_explore_reports_a_taken_port_and_bad_options(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert cli.main(["explore", "--network", "preset:stylegan-tiny-32",
                         "--port", str(port)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    cases = [(["--network", "nope.pkl", "--port", "0"], "No such network file"),
             (["--network", "m.tflite", "--trunc-cutoff", "2", "--port", "0"],
              "fixed when a network is exported"),
             (["--network", "preset:stylegan-tiny-32", "--name", "a/b"], "Model name"),
             (["--network", "preset:stylegan-tiny-32", "--max-batch", "0"], "--max-batch"),
             (["--network", "preset:no-such-preset", "--port", "0"], "no-such-preset")]
    for argv, words in cases:
        assert cli.main(["explore", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (argv, err)


@pytest.mark.parametrize("name", ["stylegan-tiny-32", "stylegan2-tiny-32"])
def test_savedmodel_layer_resolutions_equal_those_derived_from_the_blocks(name):
    """The server knows only num_ws; `figures` reads the blocks: they must agree."""
    from keras_stylegan import presets
    from keras_stylegan.figures.layers import style_resolutions
    synthesis = presets.generator(name).synthesis
    assert [mixing.layer_resolution(i) for i in range(synthesis.num_ws)] == \
        style_resolutions(synthesis)
