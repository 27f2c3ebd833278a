"""kerasless exporter: Keras model file -> graph IR -> model file (JSON/NPZ) and C header."""

__version__ = "0.1.0"
