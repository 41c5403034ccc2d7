"""The maintainer's tools: turn a fresh device into a provisioned booth, and check it (design.md §2)."""
