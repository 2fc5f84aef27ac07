"""decensor: post-train Chinese open-weight LLMs to drop political censorship, and prove it."""

__version__ = "0.1.0"
