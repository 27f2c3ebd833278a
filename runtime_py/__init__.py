"""kerasless runtime: run an exported Keras model with the standard library (numpy optional).

    import runtime_py
    model = runtime_py.load("model.json")   # or .npz
    y = model.predict(x)
    model.verify()
    g = model.gradient(x, output=k)   # d y_k / d x per row
    x = model.invert(y)               # invertible chains only (NotInvertibleError otherwise)
"""

from runtime_py.errors import ModelFormatError, NotInvertibleError, VerificationError
from runtime_py.model import BACKENDS, Model, TensorInfo, load, loads

__all__ = ["load", "loads", "Model", "TensorInfo", "ModelFormatError", "VerificationError", "NotInvertibleError",
           "BACKENDS"]
__version__ = "0.1.0"
