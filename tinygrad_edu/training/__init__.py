"""Training conveniences: ``Trainer``/``fit`` with progress bars, history, early stopping."""

from .trainer import EarlyStopping, History, Trainer, fit

__all__ = ["EarlyStopping", "History", "Trainer", "fit"]
