"""GPU energy from NVML's `nvmlDeviceGetTotalEnergyConsumption` (millijoules since the driver loaded).

Called through ctypes on the driver's own library (as torch.cuda does for device counts), so no
Python binding is needed: wherever NVML exists, `libnvidia-ml.so.1` does. The counter exists on
Volta and newer; it is whole-GPU only, so a MIG instance gets no figure. Each rank reads the GPU it
drives, found by UUID because CUDA and NVML number devices differently under CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import ctypes

NVML_LIBRARY = "libnvidia-ml.so.1"


def current_gpu_uuid() -> str | None:
    """NVML's name for the GPU this process drives, or None without one."""
    import torch

    if not torch.cuda.is_available() or torch.version.cuda is None:  # ROCm has no NVML
        return None
    uuid = getattr(torch.cuda.get_device_properties(torch.cuda.current_device()), "uuid", None)
    if uuid is None:
        return None
    text = str(uuid)
    return text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}"


class NvmlReader:
    """Joules used by one GPU since the reader was opened."""

    def __init__(self, lib, handle: ctypes.c_void_p, start_mj: int):
        self.lib, self.handle, self.start_mj = lib, handle, start_mj

    @classmethod
    def open(cls, uuid: str, library: str = NVML_LIBRARY) -> tuple[NvmlReader | None, str]:
        try:
            lib = ctypes.CDLL(library)
        except OSError:
            return None, f"no NVML: {library} not found"
        lib.nvmlErrorString.restype = ctypes.c_char_p
        if rc := lib.nvmlInit_v2():
            return None, f"no NVML: nvmlInit: {_error(lib, rc)}"
        handle = ctypes.c_void_p()
        if rc := lib.nvmlDeviceGetHandleByUUID(uuid.encode(), ctypes.byref(handle)):
            lib.nvmlShutdown()
            return None, f"no NVML figure for {uuid}: {_error(lib, rc)}"
        reader = cls(lib, handle, 0)
        try:
            reader.start_mj = reader._millijoules()
        except OSError as exc:
            lib.nvmlShutdown()
            return None, f"no NVML energy counter for {uuid}: {exc}"
        return reader, f"NVML: {uuid}"

    def _millijoules(self) -> int:
        value = ctypes.c_ulonglong()
        if rc := self.lib.nvmlDeviceGetTotalEnergyConsumption(self.handle, ctypes.byref(value)):
            raise OSError(f"nvmlDeviceGetTotalEnergyConsumption: {_error(self.lib, rc)}")
        return value.value

    def read_j(self) -> float:
        return (self._millijoules() - self.start_mj) / 1000

    def close(self) -> None:
        self.lib.nvmlShutdown()


def _error(lib, rc: int) -> str:
    try:
        return lib.nvmlErrorString(rc).decode()
    except Exception:  # noqa: BLE001 - an old driver may lack it; the code still says something
        return f"error {rc}"
