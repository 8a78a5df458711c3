"""Fuzzing the importer's guarantee: whatever the bytes, a network or our own error.

Each genuine fixture is mutated a few hundred times with a fixed seed (byte
flips, truncations and opcode insertions, mostly on opcodes; see
`helpers.guarded_load.mutations`), and `read_network_pkl` runs on every
mutation in a child capped at 1 GiB, so a segfault, a blow-up or a hang is
seen as such. Every mutation must read, or raise `LegacyFormatError` (or its
subclass). Mutations that still read but describe a different network are
also converted to Keras (`load_network_pkl`) in `test_mutations_convert_*`.
A longer run: `python bench/fuzz_importer.py --count 5000`.
"""

import pytest

from conftest import LEGACY, legacy_fixture
from helpers import guarded_load

# About half a minute on 2 CPU cores: `make test` (CI) runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow

FIXTURES = ["sg1_r32", "sg1_r32_cond", "sg1_r128", "sg2_r32_f", "sg2_r32_e_Gorig_Dorig",
            "sg2_r32_d_revised"]
SEED, COUNT = 12, 500


def _failures(lines):
    bad = [line for line in lines if line["outcome"] == "died"
           or (line["outcome"] == "error" and not line["project"])]
    done = [line for line in lines if line["outcome"] != "died"]
    return bad, len(done)


@pytest.mark.parametrize("name", FIXTURES)
def test_mutations_read_or_raise_our_error(name, tmp_path):
    legacy_fixture(name)
    spec = {"fuzz": str(LEGACY / name / "network-stripped.pkl"), "seed": SEED, "count": COUNT}
    lines = guarded_load.run("read", spec, tmp_path, memory_mb=1024, case_timeout=120)
    bad, done = _failures(lines)
    assert not bad, bad[:5]
    assert done == COUNT
    # The mutations do reach the importer's checks (not only the array bytes).
    assert sum(line["outcome"] == "error" for line in lines) > COUNT // 4


def test_mutations_convert_or_raise_our_error(tmp_path):
    name = "sg2_r32_f"
    legacy_fixture(name)
    spec = {"fuzz": str(LEGACY / name / "network-stripped.pkl"), "seed": SEED + 1,
            "count": 200, "convert": 6}
    lines = guarded_load.run("read", spec, tmp_path, memory_mb=4096, case_timeout=120)
    bad, _ = _failures(lines)
    assert not bad, bad[:5]
    assert sum(line["case"].endswith("(convert)") for line in lines) >= 1
