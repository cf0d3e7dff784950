"""Language mixtures: a spec (configs/data/mixtures/*.yaml) resolved into mixture.yaml.

The trainer uses `load_mixture(path).blend()` as megatron-core's `blend`.
"""

from data_prep.mixture.mixture import Mixture, MixtureDataset, load_mixture, resolve_to_file

__all__ = ["Mixture", "MixtureDataset", "load_mixture", "resolve_to_file"]
