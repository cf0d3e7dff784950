"""The compiled inner loops (plain C, no dependencies); everything else is in pyproject.toml.

- data_prep.steps._ngram: the Gopher repetition n-gram counts and token-id look-ups (prep)
- data_prep.pack._pieces: the pre-tokenizer split of our tokenizers (pack)
"""

from setuptools import Extension, setup

FLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension("data_prep.steps._ngram", ["data_prep/steps/_ngram.c"], extra_compile_args=FLAGS),
        Extension("data_prep.pack._pieces", ["data_prep/pack/_pieces.c"], extra_compile_args=FLAGS),
    ]
)
