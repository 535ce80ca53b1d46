"""Training commands (``drid train ...``): each module exposes ``register(subparsers)``."""
