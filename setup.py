from setuptools import find_packages, setup

setup(
    name="keras-stylegan",
    version="0.1.0",
    description="StyleGAN and StyleGAN2 in Keras 3 / TensorFlow 2, with a safe importer "
    "for NVIDIA's legacy pickles, model.fit training, export and serving.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_stylegan*", "training*", "export*"]),
    install_requires=[
        "tensorflow==2.21.0",
        "keras>=3.15,<4",
        "numpy>=1.26",
        "pillow>=10",
        "tensorboard==2.21.*",
        "scipy>=1.11",
        "ai-edge-litert>=2.0",
        "fastapi>=0.110",
        "uvicorn>=0.29",
    ],
    extras_require={"test": ["pytest>=8", "jax[cpu]>=0.4.30"]},
    entry_points={"console_scripts": ["keras-stylegan=keras_stylegan.cli:main"]},
)
