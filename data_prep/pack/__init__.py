"""Tokenize a clean corpus and pack it into Megatron indexed datasets (`<lang>_text_document`).

Entry points: `data_prep.pack.packer.pack` and `data_prep.pack.verify.verify` (kept out of this
module so importing the package stays cheap).
"""
