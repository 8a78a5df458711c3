"""One runner for the cases of the legacy fixtures: both families, any backend.

Each fixture (`fixtures/legacy/NAME`) lists its cases in `manifest.json`: the
network NVIDIA called, the inputs and kwargs, and the array of `ref.npz` it
returned. `run_case` makes the same call through our API and `assert_matches`
holds the result to the fixtures' tolerances: 1e-4 absolute on float outputs,
1 LSB on uint8 outputs. Fixture outputs are NCHW (the uint8 ones NHWC); ours
are NHWC.

A process's Keras backend is fixed when Keras is imported, so the cases run
on another backend in a subprocess (`run_in_subprocess`); this module is that
subprocess's entry point:

    python -m helpers.fixture_cases FOLDER OUT.npz CASE [CASE ...]
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import LEGACY, REPO, legacy_fixture, load_fixture, nchw_to_nhwc
from keras_stylegan import legacy, to_uint8

FLOAT_ATOL = 1e-4  # two CPU kernel paths of NVIDIA's own code differ by up to 1.3e-5
UINT8_LSB = 1


def case_params(fixtures):
    """pytest params `(fixture, case_name)`, one per manifest case, id `fixture-case`."""
    params = []
    for name in fixtures:
        path = LEGACY / name / "manifest.json"
        if not path.is_file():  # reported by load_fixture (fails under CI)
            params.append(pytest.param(name, None, id=f"{name}-missing"))
            continue
        params += [pytest.param(name, c["name"], id=f"{name}-{c['name']}")
                   for c in json.loads(path.read_text())["cases"]]
    return params


class FixtureNets:
    """`nets(name)` -> (networks, manifest, ref), each fixture imported once.

    Hold one in a module-scoped pytest fixture, so the networks are freed
    with the module.
    """

    def __init__(self):
        self._loaded = {}

    def __call__(self, name):
        if name not in self._loaded:
            pkl, manifest, ref = load_fixture(name)
            self._loaded[name] = (legacy.load_network_pkl(pkl), manifest, ref)
        return self._loaded[name]


def find_case(manifest, case_name):
    for case in manifest["cases"]:
        if case["name"] == case_name:
            return case
    raise KeyError(f"no case {case_name!r} in the manifest; it has "
                   f"{[c['name'] for c in manifest['cases']]}")


def _labels(arr):
    return arr if arr.shape[1] else None


def _truncation_kwargs(case, family):
    """NVIDIA's Gs.run truncation kwargs -> ours."""
    kw = case.get("kwargs", {})
    psi = kw.get("truncation_psi", 1.0)
    if "truncation_cutoff" not in kw or isinstance(kw["truncation_cutoff"], str):
        cutoff = "default"  # '<default: 8>' / '<default: None>': the generator's own default
    elif kw["truncation_cutoff"] is None:
        # StyleGAN1 quirk: cutoff=None disables truncation; StyleGAN2: all layers.
        cutoff = 0 if family == "stylegan1" else None
    else:
        cutoff = kw["truncation_cutoff"]
    return dict(truncation_psi=psi, truncation_cutoff=cutoff)


def run_case(nets, manifest, ref, case):
    """Runs one manifest case through our API; returns our output (NHWC, NumPy).

    StyleGAN1 cases may set the `lod` variable (`var_settings`); StyleGAN2
    cases may ask for `fused_modconv=False`, our synthesis call argument.
    """
    net, inputs, kw = case["network"], [ref[i] for i in case["inputs"]], case.get("kwargs", {})
    assert kw.get("randomize_noise", False) is False, case["name"]
    lod = case.get("var_settings", {}).get(f"{net}/lod")
    lod_kw = {} if lod is None else dict(lod=lod)
    if net == "Gs.components.mapping":
        out = nets["Gs"].mapping(inputs[0], labels=_labels(inputs[1]))
    elif net == "Gs.components.synthesis":
        out = nets["Gs"].synthesis(inputs[0], noise_mode="const")
    elif net in ("G", "Gs"):
        G, trunc = nets[net], _truncation_kwargs(case, manifest["family"])
        if manifest["family"] != "stylegan2":
            out = G(inputs[0], labels=_labels(inputs[1]), noise_mode="const", **lod_kw, **trunc)
        else:  # NVIDIA's form of the case, whatever this device's "auto" picks
            ws = G.truncate(G.mapping(inputs[0], labels=_labels(inputs[1])),
                            trunc["truncation_psi"], trunc["truncation_cutoff"])
            out = G.synthesis(ws, noise_mode="const", fused_modconv=kw.get("fused_modconv", True),
                              **lod_kw)
        if case["output"].endswith("uint8"):
            out = to_uint8(out)
    elif net == "D":
        out = nets["D"](nchw_to_nhwc(inputs[0]), labels=_labels(inputs[1]), **lod_kw)
    else:
        raise AssertionError(f"unknown network {net!r} in the manifest")
    return np.asarray(out)


def expected_output(ref, case):
    """NVIDIA's output of `case`, NHWC."""
    expected = ref[case["output"]]
    if expected.ndim == 4 and expected.dtype != np.uint8:
        expected = nchw_to_nhwc(expected)
    return expected


def assert_matches(ours, expected):
    assert ours.shape == expected.shape
    if expected.dtype == np.uint8:
        assert ours.dtype == np.uint8
        assert np.abs(ours.astype(int) - expected.astype(int)).max() <= UINT8_LSB
    else:
        np.testing.assert_allclose(ours, expected, rtol=0, atol=FLOAT_ATOL)


def check_case(nets, manifest, ref, case_name):
    """Runs and checks one case of a fixture loaded by `FixtureNets`."""
    case = find_case(manifest, case_name)
    assert_matches(run_case(nets, manifest, ref, case), expected_output(ref, case))


def check_metadata(nets, manifest):
    """What every fixture's networks must report of the manifest's config."""
    Gs, D = nets["Gs"], nets["D"]
    assert nets["meta"]["family"] == manifest["family"]
    assert Gs.resolution == D.resolution == manifest["resolution"]
    assert Gs.num_ws == manifest["num_style_layers"]
    assert (Gs.z_dim, Gs.w_dim, Gs.label_size) == (
        manifest["latent_size"], manifest["dlatent_size"], manifest["label_size"])
    assert Gs.truncation_cutoff == manifest["conventions"]["truncation_cutoff_default"]


def _networks_for(cases):
    return tuple(sorted({c["network"].split(".")[0] for c in cases}))


def run_in_subprocess(fixture, case_names, backend, out_dir):
    """Runs the named cases of `fixture` on Keras backend `backend` in a subprocess.

    Returns {case_name: (ours, expected)} for `assert_matches`. Skips when the
    backend's package is not installed.
    """
    pytest.importorskip(backend)
    folder = legacy_fixture(fixture)
    _, manifest, ref = load_fixture(fixture)
    cases = [find_case(manifest, name) for name in case_names]
    out = os.path.join(out_dir, f"{fixture}-{backend}.npz")
    env = dict(os.environ, KERAS_BACKEND=backend,
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    proc = subprocess.run(
        [sys.executable, "-m", "helpers.fixture_cases", str(folder), out, *case_names],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as ours:
        return {c["name"]: (ours[c["name"]], expected_output(ref, c)) for c in cases}


def main(folder, out, *case_names):
    backend = os.environ["KERAS_BACKEND"]
    assert keras.backend.backend() == backend, (keras.backend.backend(), backend)
    manifest = json.loads(open(os.path.join(folder, "manifest.json")).read())
    ref = np.load(os.path.join(folder, "ref.npz"))
    cases = [find_case(manifest, name) for name in case_names]
    nets = legacy.load_network_pkl(os.path.join(folder, "network-stripped.pkl"),
                                   networks=_networks_for(cases))
    np.savez(out, **{c["name"]: run_case(nets, manifest, ref, c) for c in cases})


if __name__ == "__main__":
    main(*sys.argv[1:])
