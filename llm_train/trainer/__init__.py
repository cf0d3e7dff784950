"""The pretraining loop and its components (schedule, spike policy, signals, callbacks)."""
