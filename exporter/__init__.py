"""kerasless exporter: Keras model file -> graph IR -> model file (JSON/NPZ) and C header."""

__version__ = "0.1.0"


def export_model(model, outputs, name=None, frontend=None, gradients=False, weights="float32", check_data=None,
                 check_labels=None, integer=False, calibrate=None):
    """Export a live Keras model to model files and C headers, with export-model's checks (exporter/live_model.py)."""
    from exporter.live_model import export_model as export_live

    return export_live(model, outputs, name, frontend=frontend, gradients=gradients, weights=weights,
                       check_data=check_data, check_labels=check_labels, integer=integer, calibrate=calibrate)
