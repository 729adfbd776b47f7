"""Optional NumPy. The package works without it (Debian's python3-numpy is
optional): `np` is None then, and results come back as lists / array.array."""
try:
    import numpy as np
except ImportError:  # the package must work without NumPy
    np = None

HAVE_NUMPY = np is not None


def is_array(obj):
    return np is not None and isinstance(obj, np.ndarray)
