"""Names that changed, so that files written by earlier versions still load.

Before 0.2 the StyleGAN1 classes had no family suffix and the two layers of a
StyleGAN1 synthesis block were `layer0`/`layer1`; they are now symmetric with
StyleGAN2's (`SynthesisNetworkSG1`, `DiscriminatorSG1`, block children
`conv0`/`conv1`). Names reach files in three ways, each handled here:

* configs name registered classes (`keras_stylegan>Discriminator`): the old
  registered names stay as aliases (`register_old_names`);
* `.keras` weight files name layers held in lists by their class in snake case
  (`synthesis_block_1`) and other layers by attribute (`layer0`):
  `upgrade_keras_file` rewrites an old file's weight paths;
* training checkpoints key each weight by its path (`G/synthesis.b8.layer0...`):
  `old_checkpoint_key` gives a weight's key as earlier versions wrote it.

Example:

>>> new_weight_path("layers/synthesis_network/blocks/synthesis_block_1/layer0/vars")
'layers/synthesis_network_sg1/blocks/synthesis_block_sg1_1/conv0/vars'
>>> old_checkpoint_key("synthesis.b8.conv0.conv.kernel")
'synthesis.b8.layer0.conv.kernel'
"""

import io
import json
import re
import zipfile

import keras

# Old class name -> new class name.
RENAMED_CLASSES = {
    "SynthesisNetwork": "SynthesisNetworkSG1",
    "SynthesisBlock": "SynthesisBlockSG1",
    "Discriminator": "DiscriminatorSG1",
    "DiscriminatorBlock": "DiscriminatorBlockSG1",
    "DiscriminatorEpilogue": "DiscriminatorEpilogueSG1",
}
# Children of a StyleGAN1 synthesis block: old name -> new name.
RENAMED_CHILDREN = {"layer0": "conv0", "layer1": "conv1"}
PACKAGE = "keras_stylegan"
WEIGHTS_FILE = "model.weights.h5"


def _snake(name):
    """Keras's container name of a class (`SynthesisBlockSG1` -> `synthesis_block_sg1`)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


_OLD_SNAKE = {_snake(old): _snake(new) for old, new in RENAMED_CLASSES.items()}
_BLOCK = re.compile(rf"^{_snake('SynthesisBlockSG1')}(_\d+)?$")


def register_old_names(classes):
    """Lets configs that name a class by its old registered name deserialize.

    `classes`: {new class name: class}. The new registered name stays the one
    written by `get_config`."""
    objects = keras.saving.get_custom_objects()
    for old, new in RENAMED_CLASSES.items():
        if new in classes:
            objects.setdefault(f"{PACKAGE}>{old}", classes[new])


def new_weight_path(path):
    """A `.keras` weight path of an earlier version, in today's names."""
    out = []
    for part in path.split("/"):
        m = re.fullmatch(r"(.*?)(_\d+)?", part)
        if m.group(1) in _OLD_SNAKE:
            part = _OLD_SNAKE[m.group(1)] + (m.group(2) or "")
        elif out and _BLOCK.match(out[-1]):
            part = RENAMED_CHILDREN.get(part, part)
        out.append(part)
    return "/".join(out)


def _block_children(key, mapping):
    """`key` ('.'-separated weight path) with the children of StyleGAN1
    synthesis blocks (`synthesis.bR.CHILD`) renamed by `mapping`."""
    parts = key.split(".")
    for i in range(2, len(parts)):
        if parts[i - 2] == "synthesis" and re.fullmatch(r"b\d+", parts[i - 1]):
            parts[i] = mapping.get(parts[i], parts[i])
    return ".".join(parts)


def old_checkpoint_key(key):
    """A checkpoint key ('.'-separated weight path) as earlier versions wrote it."""
    return _block_children(key, {new: old for old, new in RENAMED_CHILDREN.items()})


def is_old_checkpoint_key(key):
    """True for a key that only earlier versions write."""
    return _block_children(key, RENAMED_CHILDREN) != key


def _weight_paths(h5):
    paths = []
    h5.visit(paths.append)
    return paths


def is_old_keras_file(path):
    """True when the `.keras` file at `path` uses names of an earlier version."""
    import h5py
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read(WEIGHTS_FILE)), "r") as h5:
        return any(new_weight_path(p) != p for p in _weight_paths(h5))


def upgrade_keras_file(src, dst):
    """Writes `dst`: the `.keras` file `src` with its weight paths renamed."""
    import h5py
    with zipfile.ZipFile(src) as z:
        members = {name: z.read(name) for name in z.namelist()}
    json.loads(members["config.json"])  # a readable config, or ValueError
    out = io.BytesIO()
    with h5py.File(io.BytesIO(members[WEIGHTS_FILE]), "r") as old, h5py.File(out, "w") as new:
        for path in _weight_paths(old):
            item = old[path]
            target = new_weight_path(path)
            if isinstance(item, h5py.Dataset):
                new.create_dataset(target, data=item[()])
            else:
                new.require_group(target)
            new[target].attrs.update(dict(item.attrs))
    members[WEIGHTS_FILE] = out.getvalue()
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
