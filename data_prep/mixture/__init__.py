"""Language mixtures: a spec (configs/data/mixtures/*.yaml) resolved into mixture.yaml.

`llm_train.data.mixture.load_mixture` reads the file (for the trainer and for checks here).
"""

from data_prep.mixture.write import resolve_to_file

__all__ = ["resolve_to_file"]
