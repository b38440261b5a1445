"""Neural-network building blocks with PyTorch's names, arguments and defaults."""

from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
