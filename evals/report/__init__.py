"""`llm-train eval report RUN_DIR...`: Markdown plus PNG plots, several runs overlaid."""
