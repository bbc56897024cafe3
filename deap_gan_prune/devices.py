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


def available_memory() -> int | None:
    """Bytes of memory this machine can give a process now (Linux ``MemAvailable``; else the
    physical memory), or None where neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


class MemoryLimit(ValueError):
    """A request whose estimated memory exceeds what the machine has; names the option."""


def check_memory(needed: float, what: str) -> None:
    """Refuse, before allocating, a request estimated to need ``needed`` bytes when the
    machine has less available: one line naming ``what`` (the option and its value)."""
    have = available_memory()
    if have is not None and needed > have:
        raise MemoryLimit(f"{what}: needs about {needed / 2**30:,.1f} GiB of memory, this "
                          f"machine has {have / 2**30:,.1f} GiB available; ask for less")
