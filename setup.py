from setuptools import find_packages, setup

# The source tree keeps `training/` and `export/` beside `keras_stylegan/`, but
# they install as `keras_stylegan.training` and `keras_stylegan.export`, so
# nothing with a generic name lands at the top of site-packages (NVIDIA's
# StyleGAN repositories ship a top-level `training` package of their own).
MAPPED = {"keras_stylegan.training": "training", "keras_stylegan.export": "export"}


def _packages():
    packages = find_packages(include=["keras_stylegan", "keras_stylegan.*"])
    for name, folder in MAPPED.items():
        packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]
    return packages


setup(
    name="keras-stylegan",
    version="0.2.0",
    description="StyleGAN and StyleGAN2 in Keras 3 / TensorFlow 2, with a safe importer "
    "for NVIDIA's legacy pickles, model.fit training, export and serving.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=_packages(),
    package_dir=MAPPED,
    # The style explorer's web page (`keras-stylegan serve` / `explore` show it at /).
    package_data={"keras_stylegan.export.explorer": ["*.html", "*.js", "*.css"]},
    install_requires=[
        "tensorflow==2.21.0",
        "keras>=3.15,<4",
        "numpy>=1.26",
        "pillow>=10",
        "tensorboard==2.21.*",
        "scipy>=1.11",
        "scikit-learn>=1.3",
        "ai-edge-litert>=2.0",
        "fastapi>=0.110",
        "uvicorn>=0.29",
    ],
    extras_require={"test": ["pytest>=8", "jax[cpu]>=0.4.30", "selenium>=4.20"]},
    entry_points={"console_scripts": ["keras-stylegan=keras_stylegan.cli:main"]},
)
