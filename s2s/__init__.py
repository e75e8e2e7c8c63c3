"""s2s: speech recognition, keyword spotting and synthesis recipes in PyTorch."""

__version__ = "0.1.0"
