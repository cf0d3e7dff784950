"""The AI Act training-content summary (Art. 53(1)(d)) of a run: collect.py gathers the figures from
the run, its data lineage and the data cards; info.py reads what only the provider knows;
render.py turns the summary into Markdown (a pure function, snapshot-tested)."""
