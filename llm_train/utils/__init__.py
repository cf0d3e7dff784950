"""Small shared helpers: atomic writes, logging, registries, progress."""
