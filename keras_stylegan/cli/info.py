"""Describe a network file: family, resolution, kwargs and parameter counts.

Examples:
  keras-stylegan info karras2019stylegan-ffhq-1024x1024.pkl
  keras-stylegan info network-snapshot-000000.pkl   (stylegan2-ada-pytorch / stylegan3)
  keras-stylegan info runs/demo/network-snapshot-000100.keras
  keras-stylegan info runs/demo          (a training run: its newest snapshot)
"""

import json
import os


def add_arguments(p):
    p.add_argument("file", help="NVIDIA .pkl (TF1 or PyTorch), .keras generator, or a "
                   "training run directory (its newest network-snapshot-*.keras)")
    p.add_argument("--json", action="store_true", help="print JSON")


def describe_pickle(path):
    from keras_stylegan.legacy import is_torch_pickle, read_network_pkl
    if is_torch_pickle(path):
        from keras_stylegan.legacy.pytorch import describe
        return describe(path)
    pkl = read_network_pkl(path)
    nets = {}
    for key in ("G", "D", "Gs"):
        net = getattr(pkl, key)
        nets[key] = dict(
            build_func=net.build_func_name, version=net.version,
            static_kwargs=net.static_kwargs,
            components={k: c.build_func_name for k, c in net.components.items()},
            params=net.num_params(), stored_values=net.num_params(trainable_only=False))
    res = pkl.Gs.static_kwargs.get("resolution")
    return dict(file=path, format="NVIDIA legacy pickle", family=pkl.family,
                resolution=res, networks=nets)


def describe_keras(path):
    from keras_stylegan.loading import load_generator
    G = load_generator(path)
    return dict(file=path, format="Keras .keras", family=G.family,
                resolution=G.resolution, config=G.get_config(),
                params=int(sum(w.numpy().size for w in G.trainable_weights)))


def run(args):
    path = args.file
    if os.path.isdir(path):
        from keras_stylegan.loading import find_snapshot
        path = find_snapshot(path)
    info = describe_keras(path) if path.endswith(".keras") else describe_pickle(path)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return
    print(f"{info['file']}: {info['format']}, {info['family']}, "
          f"{info['resolution']}x{info['resolution']}")
    if "augment_pipe" in info:  # a PyTorch snapshot
        for key, net in info["networks"].items():
            print(f"  {key}: {net['class_name']}: {net['params']:,} parameters")
            print(f"      kwargs: {net['init_kwargs']}")
        print(f"  augment_pipe: {info['augment_pipe']}")
        print(f"  training_set_kwargs: {info['training_set_kwargs']}")
    elif "networks" in info:
        for key, net in info["networks"].items():
            comps = ", ".join(f"{k}={v}" for k, v in net["components"].items())
            print(f"  {key}: {net['build_func']} (format v{net['version']})"
                  f"{' [' + comps + ']' if comps else ''}: {net['params']:,} parameters")
            print(f"      kwargs: {net['static_kwargs']}")
    else:
        print(f"  parameters: {info['params']:,}")
        print(f"  config: {info['config']}")
