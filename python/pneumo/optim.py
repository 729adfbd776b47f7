"""Optimizers: Adam and SGD (Keras update rules). An optimizer binds to the
model it first steps; using it with another model raises StateError. Like the C
object, an optimizer is used by one thread at a time (the wrapper holds its lock
while a step or fit uses it)."""
from ctypes import byref, c_void_p

from . import _lib as L
from . import _structs as S


class Optimizer(L.Handle):
    """Base class; create Adam(...) or SGD(...)."""

    _destroy = "pneumo_optimizer_destroy"

    @classmethod
    def _adopt(cls, ptr):
        kind = S.OPTIMIZER_KINDS.get(L.lib.pneumo_optimizer_kind_of(ptr))
        sub = {"adam": Adam, "sgd": SGD}.get(kind, Optimizer)
        opt = sub.__new__(sub)
        L.Handle.__init__(opt, ptr)
        return opt

    @property
    def kind(self):
        """'adam' or 'sgd'."""
        return S.OPTIMIZER_KINDS.get(L.lib.pneumo_optimizer_kind_of(self.handle))

    @property
    def learning_rate(self):
        return L.lib.pneumo_optimizer_learning_rate(self.handle)

    @learning_rate.setter
    def learning_rate(self, lr):
        with self._lock:
            L.call("pneumo_optimizer_set_learning_rate", self.handle, float(lr))

    @property
    def iterations(self):
        """Update steps taken so far (Keras' optimizer.iterations)."""
        return L.lib.pneumo_optimizer_iterations(self.handle)

    def __repr__(self):
        if self.closed:
            return f"<pneumo.{type(self).__name__} (closed)>"
        return (f"<pneumo.{type(self).__name__} lr={self.learning_rate:g} "
                f"iterations={self.iterations}>")


class Adam(Optimizer):
    """Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)."""

    def __init__(self, learning_rate=None, beta_1=None, beta_2=None, epsilon=None):
        p = S.AdamParams()
        L.lib.pneumo_adam_default_params(byref(p))
        for name, v in (("learning_rate", learning_rate), ("beta_1", beta_1),
                        ("beta_2", beta_2), ("epsilon", epsilon)):
            if v is not None:
                setattr(p, name, float(v))
        out = c_void_p()
        L.call("pneumo_optimizer_create_adam", byref(p), byref(out))
        L.Handle.__init__(self, out.value)


class SGD(Optimizer):
    """SGD(learning_rate=0.01, momentum=0.0, nesterov=False)."""

    def __init__(self, learning_rate=None, momentum=None, nesterov=False):
        p = S.SGDParams()
        L.lib.pneumo_sgd_default_params(byref(p))
        if learning_rate is not None:
            p.learning_rate = float(learning_rate)
        if momentum is not None:
            p.momentum = float(momentum)
        p.nesterov = int(bool(nesterov))
        out = c_void_p()
        L.call("pneumo_optimizer_create_sgd", byref(p), byref(out))
        L.Handle.__init__(self, out.value)


def adam_defaults():
    """Keras' Adam defaults as the library fills them."""
    p = S.AdamParams()
    L.lib.pneumo_adam_default_params(byref(p))
    return p.to_dict()


def sgd_defaults():
    p = S.SGDParams()
    L.lib.pneumo_sgd_default_params(byref(p))
    d = p.to_dict()
    d["nesterov"] = bool(d["nesterov"])
    return d


__all__ = ["Optimizer", "Adam", "SGD", "adam_defaults", "sgd_defaults"]
