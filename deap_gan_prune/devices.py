"""Check a ``--device`` string before any work starts: one line saying what is available."""
from __future__ import annotations

import torch


class DeviceError(ValueError):
    """A device that this machine or this PyTorch build cannot run on."""


def available_devices() -> list[str]:
    """The devices this process can run networks on: ``cpu``, then ``cuda:N``, then ``mps``."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def _refuse(name: str, problem: str) -> DeviceError:
    return DeviceError(f"device {name!r}: {problem}; available: "
                       f"{', '.join(available_devices())}")


def check_device(name: str) -> torch.device:
    """``torch.device(name)`` when networks can run there; :class:`DeviceError` otherwise."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise _refuse(name, "not a device name") from None
    if device.type == "cpu":
        if device.index not in (None, 0):
            raise _refuse(name, "there is one CPU device")
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            cuda = torch.version.cuda
            why = ("this PyTorch build has no CUDA" if cuda is None
                   else "no CUDA GPU is visible")
            raise _refuse(name, why)
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise _refuse(name, f"there {'is' if count == 1 else 'are'} {count} CUDA "
                                f"device{'s' if count != 1 else ''}")
        return device
    if device.type == "mps" and "mps" in available_devices():
        return device
    raise _refuse(name, f"{device.type} is not available here")
