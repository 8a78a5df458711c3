"""The importer's limits: every size a hostile pickle could inflate has a bound.

The limits are far above anything NVIDIA's training code writes (a
1024x1024 StyleGAN2 pickle is ~360 MB and ~20,000 pickle opcodes) and are
checked before the memory they guard is allocated, so that whatever the
bytes, `load_network_pkl` finishes in time and memory proportional to the
file, or raises `LegacyFormatError`. README "Loading untrusted files" lists
them.
"""

# Whole file: read into memory once.
MAX_FILE_BYTES = 2 * 1024 ** 3
# Pickle machine: opcodes executed and memo entries (each is at most one small
# Python object, so these bound the memory on top of the file's own bytes).
MAX_OPCODES = 2_000_000
MAX_MEMO = 1_000_000
# One array: dimensions and elements (its bytes must also be in the file).
MAX_ARRAY_NDIM = 8
MAX_ARRAY_ELEMENTS = 2 ** 31
# Networks: component nesting below G/D/Gs, networks in the file, variables.
MAX_COMPONENT_DEPTH = 2
MAX_NETWORKS = 16
MAX_VARIABLES = 100_000
MAX_NAME_CHARS = 1_000
# static_kwargs (and StyleGAN2-ADA shape lists) of one network: values and
# characters of strings, counted as often as they are referenced; nesting depth.
MAX_KWARG_VALUES = 10_000
MAX_KWARG_CHARS = 100_000
MAX_KWARG_DEPTH = 16
# Characters of a stored value quoted in an error message.
MAX_QUOTE_CHARS = 200
