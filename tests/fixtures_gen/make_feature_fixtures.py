"""Makes the feature-network fixtures in tests/data/metrics/ (run by hand, not in CI).

The reference implementations run here, with seeded RANDOM weights: pytorch-fid's
`InceptionV3([3])` (FID blocks, bilinear resize to 299), torchvision's `vgg16`
(fc2 after ReLU) and the `lpips` package's `LPIPS(net='vgg')`. The weights are
written as genuine `torch.save` checkpoints in the public files' layouts (the
keys of pt_inception-2015-12-05-6726825d.pth, vgg16-397923af.pth and lpips'
weights/v0.1/vgg.pth); tests read them with our torch-free reader and compare
our Keras networks' outputs with the reference outputs saved in `reference.npz`.

Keeping full-size architectures small on disk: every large weight tensor is a
strided *view* of a small random storage (row o of a [O, ...] weight starts
s0 * o values into the storage), which `torch.save` stores as the storage plus
its strides. The reference nets load these views (values are copied), so the
reference and our reader see exactly the same numbers, and the files stay a
few MB instead of ~640 MB. BatchNorm running statistics are calibrated on the
inputs (one train-mode pass) so activations stay well scaled through 94 layers.

Regenerate (needs torch, torchvision, pytorch-fid, lpips; about a minute):

    python3 -m venv /work/torchenv
    /work/torchenv/bin/pip install torch torchvision pytorch-fid lpips numpy scipy
    /work/torchenv/bin/python tests/fixtures_gen/make_feature_fixtures.py
"""

import os
import pathlib
import sys
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

OUT = pathlib.Path(__file__).resolve().parents[1] / "data" / "metrics"
CAP = 8192  # storage elements per large tensor (at least two rows)


def compact(shape, std, gen):
    """A tensor of `shape`, N(0, std^2) values, as a view of a small storage."""
    numel = int(np.prod(shape))
    row = numel // shape[0] if len(shape) > 1 else numel
    size = min(numel, max(CAP, 2 * row))
    base = torch.randn(size, generator=gen, dtype=torch.float32) * std
    if size == numel:
        return base.view(shape)
    s0 = max(1, min(row, (size - row) // (shape[0] - 1)))
    rest = [int(np.prod(shape[i + 1:])) for i in range(1, len(shape))]
    return base.as_strided(shape, (s0, *rest))


def random_state(template, gen):
    """Random weights for every tensor of `template` (a model's state dict)."""
    out = {}
    for name, t in template.items():
        shape = tuple(t.shape)
        if name.endswith("num_batches_tracked"):
            out[name] = torch.zeros((), dtype=torch.long)
        elif name.endswith("running_var") or name.endswith("bn.weight"):
            out[name] = torch.rand(shape, generator=gen) + 0.5
        elif name.endswith("running_mean") or name.endswith("bias"):
            out[name] = torch.randn(shape, generator=gen) * 0.1
        else:
            fan_in = int(np.prod(shape[1:]))
            out[name] = compact(shape, (2.0 / fan_in) ** 0.5, gen)
    return out


def calibrate_bn(model, batches):
    """Sets every BatchNorm's running stats to the average of train-mode passes."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    model.eval()


def images(gen, shape):
    return torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8).numpy()


def nchw01(x):
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0


def make_inception(gen, inputs):
    import pytorch_fid.inception as pfi
    holder = {}
    orig = torchvision.models.inception.Inception3.load_state_dict

    def load_random(self, _state_dict, *args, **kwargs):
        holder["net"] = self
        holder["state"] = random_state(self.state_dict(), gen)
        return orig(self, holder["state"])

    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch.object(torchvision.models.inception.Inception3, "load_state_dict",
                              load_random):
        model = pfi.InceptionV3([3])  # resize_input=True, normalize_input=True
    calibrate_bn(model, [nchw01(x) for x in inputs])
    state = holder["state"]
    for name, t in holder["net"].state_dict().items():
        if "running" in name:
            state[name] = t.clone()
    with torch.no_grad():
        refs = [model(nchw01(x))[0][:, :, 0, 0].numpy() for x in inputs]
    torch.save(state, OUT / "inception_random.pth")  # zip format
    return refs


def make_vgg(gen, inputs):
    model = torchvision.models.vgg16(weights=None).eval()
    state = random_state(model.state_dict(), gen)
    model.load_state_dict(state)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    fc2 = torch.nn.Sequential(*list(model.classifier.children())[:5])  # fc1 relu drop fc2 relu
    refs = []
    with torch.no_grad():
        for x in inputs:
            x = F.interpolate(nchw01(x), size=(224, 224), mode="bilinear", align_corners=False)
            x = model.avgpool(model.features((x - mean) / std))
            refs.append(fc2(torch.flatten(x, 1)).numpy())
    torch.save(state, OUT / "vgg16_random.pth", _use_new_zipfile_serialization=False)
    return state, refs


def make_lpips(gen, vgg_state, a, b):
    import lpips
    model = lpips.LPIPS(net="vgg", version="0.1", pretrained=False, pnet_rand=True,
                        verbose=False).eval()
    for name, module in model.net.named_modules():  # 'slice2.5' is features.5
        if isinstance(module, torch.nn.Conv2d):
            idx = name.split(".")[-1]
            module.load_state_dict({"weight": vgg_state[f"features.{idx}.weight"],
                                    "bias": vgg_state[f"features.{idx}.bias"]})
    lin = {f"lin{i}.model.1.weight": torch.rand((1, c, 1, 1), generator=gen) * 0.1
           for i, c in enumerate([64, 128, 256, 512, 512])}
    model.load_state_dict(lin, strict=False)
    torch.save(lin, OUT / "lpips_random_lin.pth", _use_new_zipfile_serialization=False)
    to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2)  # noqa: E731
    with torch.no_grad():
        return model(to_t(a), to_t(b)).reshape(-1).numpy()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20151205)
    inc_in = [images(gen, (2, 40, 56, 3)), images(gen, (1, 320, 304, 3))]
    vgg_in = [images(gen, (2, 48, 40, 3))]
    a = (torch.rand((3, 64, 48, 3), generator=gen) * 2 - 1).numpy()
    b = np.clip(a + 0.3 * torch.randn(a.shape, generator=gen).numpy(), -1, 1)
    b[2] = a[2]  # identical pair: distance 0
    inc_ref = make_inception(gen, inc_in)
    vgg_state, vgg_ref = make_vgg(gen, vgg_in)
    lp_ref = make_lpips(gen, vgg_state, a, b.astype(np.float32))
    np.savez_compressed(
        OUT / "reference.npz", inception_in0=inc_in[0], inception_in1=inc_in[1],
        inception_out0=inc_ref[0], inception_out1=inc_ref[1], vgg_in0=vgg_in[0],
        vgg_out0=vgg_ref[0], lpips_a=a, lpips_b=b.astype(np.float32), lpips_out=lp_ref)
    for p in sorted(OUT.iterdir()):
        print(f"{p.name}: {os.path.getsize(p) / 1e6:.2f} MB")
    print("inception feats", [r.shape for r in inc_ref], float(np.abs(inc_ref[0]).max()),
          "vgg", vgg_ref[0].shape, float(np.abs(vgg_ref[0]).max()), "lpips", lp_ref)


if __name__ == "__main__":
    sys.exit(main())
