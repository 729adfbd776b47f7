"""ctypes mirrors of the public C structs and enum values of libpneumo.

The layouts, constants and callback types are generated from include/pneumo/*.h
into pneumo/_generated.py (tests/gen_api_docs.py; never edit that file by hand)
and re-exported here with the conveniences the wrapper modules use: the names
the package has always used for some structs, and the enums as
{python name: value} dictionaries. python/tests/test_layout.py compares sizes,
field offsets, argument sizes and enum values with a C program built from the
headers (tests/python_layout.c), so a header change that breaks the mirror fails
CI. Every input struct starts with its size (set by the library's default
function, so always fill a struct with it before changing fields); nested option
structs are pointers (None means the library's defaults)."""
from ._generated import *  # noqa: F401,F403  (constants, struct classes, callbacks)
from ._generated import ENUMS, Conv2dParams, FitCallback, Maxpool2dParams, ReduceLrParams, SgdParams, WriteFn

# Class names the package used before the layouts were generated (the
# generated ones follow the C names word by word).
Conv2DParams = Conv2dParams
MaxPool2DParams = Maxpool2dParams
SGDParams = SgdParams
ReduceLRParams = ReduceLrParams
FIT_CALLBACK = FitCallback
WRITE_FN = WriteFn


def _by_name(enum):
    """{'relu': 1, ...}: the constants of a C enum without their common prefix,
    in lower case."""
    members = ENUMS[enum]
    words = [name.split("_") for name in members]
    common = 0
    while all(len(w) > common + 1 and w[common] == words[0][common] for w in words):
        common += 1
    return {"_".join(w[common:]).lower(): members[name] for w, name in zip(words, members)}


def _by_value(enum):
    """{1: 'adam', ...}: the inverse of _by_name."""
    return {v: k for k, v in _by_name(enum).items()}


ACTIVATIONS = _by_name("pneumo_activation")
PADDINGS = _by_name("pneumo_padding")
OPTIMIZER_KINDS = _by_value("pneumo_optimizer_kind")
RESAMPLES = _by_name("pneumo_resample")
FILL_MODES = _by_name("pneumo_fill_mode")
MONITORS = _by_name("pneumo_monitor")
MODES = _by_name("pneumo_monitor_mode")
EVENT_KINDS = _by_value("pneumo_fit_event_kind")
