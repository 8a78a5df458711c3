"""`python -m keras_stylegan.cli ...`: the `keras-stylegan` console script."""

import sys

from keras_stylegan.cli import main

sys.exit(main())
