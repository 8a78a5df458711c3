"""Adaptive discriminator augmentation (ADA, StyleGAN2-ADA) in TensorFlow.

* `pipeline.AugmentPipe`: the augmentation pipeline and its `--augpipe`
  presets (`geometric`, `color`, `corrupt` hold the operations, `matrices`
  and `filters` their building blocks).
* `adaptive`: the `--aug ada|fixed|noaug` modes, the config checks and the
  update of the augmentation strength p from the sign of D on the reals.

Reference: Karras et al., "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020.
"""
