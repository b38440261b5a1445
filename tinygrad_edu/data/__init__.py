"""Data: datasets, mini-batch loading, batch-wise augmentation, real data sets and text ids.

Everything here works on NumPy arrays and needs no autograd. A loader yields NumPy batches; the
training loop makes Tensors of them (``tg.tensor(xb, device="cuda")``).

- ``dataset``: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``StackDataset``,
  ``IterableDataset``, ``ChainDataset``, ``random_split``, ``KFold``;
- ``sampler``: ``Sampler``, ``SequentialSampler``, ``RandomSampler``, ``SubsetRandomSampler``,
  ``WeightedRandomSampler``, ``BatchSampler`` (for ``DataLoader(sampler=/batch_sampler=)``);
- ``loader``: ``DataLoader``, ``default_collate``, ``default_convert``, ``get_worker_info``;
- ``transforms``: ``ToFloat``, ``Normalize``, ``RandomCrop``, ``RandomHorizontalFlip``, ...;
- ``datasets``: MNIST, Fashion-MNIST, 8x8 digits, Rotten Tomatoes sentiment, CIFAR-10, all read
  from disk (never downloaded), and the ``get_dataset(name, split)`` registry;
- ``text``: ``tokenize``, ``Vocabulary``, ``pad_sequences``.
"""

from . import datasets, text, transforms
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    KFold,
    StackDataset,
    Subset,
    TensorDataset,
    kfold_indices,
    random_split,
)
from .datasets import (
    CIFAR10,
    DATASETS,
    MNIST,
    DatasetInfo,
    DatasetNotFoundError,
    FashionMNIST,
    dataset_info,
    get_dataset,
    list_datasets,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_rt_sentiment,
)
from .loader import DataLoader, default_collate, default_convert, get_worker_info
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .text import Vocabulary, tokenize

__all__ = [
    "datasets",
    "text",
    "transforms",
    "Dataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "StackDataset",
    "IterableDataset",
    "ChainDataset",
    "random_split",
    "KFold",
    "kfold_indices",
    "DataLoader",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
    "MNIST",
    "FashionMNIST",
    "CIFAR10",
    "DATASETS",
    "DatasetInfo",
    "DatasetNotFoundError",
    "dataset_info",
    "get_dataset",
    "list_datasets",
    "load_mnist",
    "load_fashion_mnist",
    "load_digits",
    "load_rt_sentiment",
    "load_cifar10",
    "tokenize",
    "Vocabulary",
]
