"""The `llm-train` command line."""
