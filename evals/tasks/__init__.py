"""Multiple-choice tasks: the local JSONL format, loaders for public benchmark files, a generator."""
