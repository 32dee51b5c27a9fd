"""One module per model family, each defining its config and its `Family` record (trainables/family.py)."""
