"""Exporting generators: SavedModel, TFLite / LiteRT, and serving (TensorFlow)."""
