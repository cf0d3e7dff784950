"""Pipeline model: steps are generators over documents; executors run them over shards."""
