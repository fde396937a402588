"""popreg: population registry and vital statistics for local government."""

__version__ = "0.1.0"
