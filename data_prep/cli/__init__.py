"""Entry points of the data_prep subcommands (`llm-train prep`, `tokenizer`, `pack`)."""
