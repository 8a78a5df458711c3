"""Metric names as NVIDIA writes them, with the sample count in the name.

`fid50k_full` (FID, 50k generated vs the full dataset), `fid50k` (vs the first
50k reals), `kid50k_full` / `kid50k`, `pr50k3_full` / `pr50k3` (k = 3),
`ppl_zfull`, `ppl_wfull`, `ppl_zend`, `ppl_wend` (100k samples, NVIDIA's face
crop unless `crop=False`), `ppl2_wend` (StyleGAN2's: 50k, no crop), `ls`
(linear separability, 200k samples), and `fd_shapes10k_full` / `fd_shapes10k`
(the Fréchet distance on the built-in data's factor classifier, not FID).
Counts are `N`, `Nk` (thousands): `fid1k`, `fid10k_full`, `pr2k3`, `ppl1k_wend`,
`ppl2_500_wend`, `ls10k`.

>>> s = parse_metric("fid10k_full")
>>> s.kind, s.num_gen, s.num_real
('fid', 10000, None)
>>> parse_metric("ppl2_1k_wend").num_gen, parse_metric("ppl2_1k_wend").crop
(1000, False)
>>> parse_metric("ls").num_gen, parse_metric("ls10k").num_gen, parse_metric("fd_shapes1k").needs
(200000, 10000, 'judge')
"""

import dataclasses
import re

PR_FULL_REALS = 200_000  # NVIDIA's pr50k3_full reads at most 200k reals
_COUNT = r"(\d+)(k?)"
_FEATURE = re.compile(rf"(fid|kid){_COUNT}(_full)?")
_PR = re.compile(rf"pr{_COUNT}(\d)(_full)?")
_LS = re.compile(rf"ls(?:{_COUNT})?")
_FD_SHAPES = re.compile(rf"fd_shapes{_COUNT}(_full)?")
LS_SAMPLES = 200_000  # NVIDIA's linear separability: 200k samples, the best half kept
_PPL = re.compile(rf"ppl(?:(2)_|_?)(?:{_COUNT}_)?(z|w)(full|end)")


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """A parsed metric name (`num_real` None = the whole dataset)."""

    name: str
    kind: str  # 'fid', 'kid', 'pr', 'ppl', 'ls' or 'fd_shapes'
    num_gen: int
    num_real: int = None
    k: int = None
    space: str = None  # ppl: 'z' or 'w'
    sampling: str = None  # ppl: 'full' or 'end'
    crop: bool = None  # ppl: NVIDIA's face crop

    @property
    def needs(self):
        """What this metric needs: the feature network 'inception', 'vgg16' or
        'lpips', 'judge' (the built-in factor classifier) or 'attributes' (ls)."""
        return {"fid": "inception", "kid": "inception", "pr": "vgg16", "ppl": "lpips",
                "fd_shapes": "judge", "ls": "attributes"}[self.kind]


def _count(digits, k, name):
    n = int(digits) * (1000 if k else 1)
    if n < 2:
        raise ValueError(f"{name!r}: a metric needs at least 2 samples.")
    return n


def parse_metric(name, ppl_crop=True):
    """MetricSpec of `name`; ValueError listing the accepted forms otherwise.

    Args:
        ppl_crop: whether StyleGAN1-style `ppl_*` metrics use NVIDIA's face crop.
    """
    m = _FEATURE.fullmatch(name)
    if m:
        n = _count(m.group(2), m.group(3), name)
        return MetricSpec(name, m.group(1), n, None if m.group(4) else n)
    m = _PR.fullmatch(name)
    if m:
        n = _count(m.group(1), m.group(2), name)
        return MetricSpec(name, "pr", n, PR_FULL_REALS if m.group(4) else n, k=int(m.group(3)))
    m = _FD_SHAPES.fullmatch(name)
    if m:
        n = _count(m.group(1), m.group(2), name)
        return MetricSpec(name, "fd_shapes", n, None if m.group(3) else n)
    m = _LS.fullmatch(name)
    if m:
        n = _count(m.group(1), m.group(2), name) if m.group(1) else LS_SAMPLES
        if n < 4:
            raise ValueError(f"{name!r}: linear separability needs at least 4 samples.")
        return MetricSpec(name, "ls", n)
    m = _PPL.fullmatch(name)
    if m:
        v2 = bool(m.group(1))
        if v2 and (m.group(4), m.group(5)) != ("w", "end"):
            raise ValueError(f"{name!r}: StyleGAN2's variant exists only as ppl2_wend.")
        n = _count(m.group(2), m.group(3), name) if m.group(2) else (50_000 if v2 else 100_000)
        return MetricSpec(name, "ppl", n, space=m.group(4), sampling=m.group(5),
                          crop=False if v2 else bool(ppl_crop))
    raise ValueError(
        f"unknown metric {name!r}. Use NVIDIA's names with the sample count in them: "
        "fid50k_full, fid10k, kid50k_full, pr50k3_full, ppl_zfull, ppl_wfull, ppl_zend, "
        "ppl_wend, ppl2_wend, ls, fd_shapes10k_full (counts as N or Nk, e.g. fid1k, "
        "ppl1k_wend, ppl2_1k_wend, ls10k).")


def parse_metrics(text, ppl_crop=True):
    """'fid1k,ppl_wend' -> [MetricSpec, ...] (duplicates removed, order kept)."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise ValueError("--metrics is empty; e.g. --metrics fid50k_full,ppl_wend.")
    return [parse_metric(n, ppl_crop) for n in dict.fromkeys(names)]
