"""Energy of a run: counters where the hardware exposes them (NVML for GPUs, RAPL for CPU packages),
the cluster profile's power figures otherwise, and the arithmetic to facility kWh and CO2."""
