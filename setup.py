"""The compiled inner loops (plain C, no dependencies); everything else is in pyproject.toml.

- data_prep.steps._native: the word statistics of the quality filters (n-gram counts of the Gopher
  repetition rules, token-id and word-cache look-ups)
- data_prep.pack._pieces: the pre-tokenizer split of our tokenizers (pack)
"""

from setuptools import Extension, setup

FLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension("data_prep.steps._native", ["data_prep/steps/_native.c"], extra_compile_args=FLAGS),
        Extension("data_prep.pack._pieces", ["data_prep/pack/_pieces.c"], extra_compile_args=FLAGS),
    ]
)
