"""The curated data: reading JSONL files with precise errors, and turning them into `datasets` objects."""
