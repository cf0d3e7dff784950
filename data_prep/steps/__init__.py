"""Per-document steps of the corpus pipeline; importing this package registers them in STEPS."""

from data_prep.steps import (  # noqa: F401  (imported to register)
    c4,
    fineweb_quality,
    gopher_quality,
    gopher_repetition,
    langid,
    normalize,
    optout,
    pii,
)
