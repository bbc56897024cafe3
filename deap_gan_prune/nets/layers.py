"""Your own layers: the extension point of the channel tracing.

The tracing knows convolutions, norms and channel-wise layers (:mod:`.groups`). A layer of
yours that holds tensors indexed by the channels it passes through (a conditional instance
norm's ``[n_styles, C]`` scales, a per-channel gain, an attention table) declares which
dimension of which tensor follows those channels, as a class attribute::

    class CondIN(nn.Module):
        channel_dims = {"scale": 1, "shift": 1}   # tensor name -> dimension of size C
        channel_count = "num_features"            # optional: attribute holding C

Such a layer must keep its channel count (``C`` in, ``C`` out, each output channel computed
from its own input channel). Tracing then puts it in the channel group of the conv that
writes its input; :func:`~deap_gan_prune.nets.slimming.slim` slices every declared tensor
(parameter or buffer) along its dimension and sets ``channel_count``; masking, parameter
counts and ONNX export follow. A layer that changes the channel count is built from
convolutions instead. For a class you cannot edit, declare it on a subclass.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable


@runtime_checkable
class ChannelLayer(Protocol):
    """A layer of yours whose tensors follow its channels: ``channel_dims`` maps a tensor's
    name (a parameter or buffer of the layer itself) to its dimension of size ``C``."""

    channel_dims: ClassVar[Mapping[str, int]]


def channel_dims(module: Any) -> dict[str, int] | None:
    """The declared ``{tensor name: channel dimension}`` of ``module``, or None when it
    declares none. ValueError (one line) for a declaration that is not such a mapping."""
    dims = getattr(type(module), "channel_dims", None)
    if dims is None:
        return None
    if not isinstance(dims, Mapping) or not dims or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in dims.items()):
        raise ValueError(f"{type(module).__name__}.channel_dims must map tensor names to "
                         f"dimensions, e.g. {{'scale': 1}}; got {dims!r}")
    return dict(dims)
