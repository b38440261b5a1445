"""Seed models, one file per family, and a registry the CLI and the study tools use.

``get_model(name, **kwargs)`` builds a model; ``list_models()`` lists them all (what
``tinygrad-edu models`` prints). Families and their files:

=================  ==========================================================================
mlp.py, cnn.py     MLP, LeNet-5, Keras CNN, CIFAR tutorial net, small VGG
resnet.py          ResNet-18 (BasicBlock, width knob, small-image stem)
rnn.py             MNIST rows through an RNN/LSTM/GRU; text classifier (Embedding + LSTM/GRU)
seq2seq.py         LSTM encoder-decoder with Luong attention; synthetic reverse/sort digit task
transformer.py     nn.Transformer encoder-decoder on the same task
gpt.py             tiny decoder-only GPT (nanoGPT blocks), character-level data helpers
ncf.py             neural collaborative filtering on synthetic low-rank ratings
style_transfer.py  Gram-matrix style transfer with L-BFGS on the pixels (random-init features)
gan.py, vae.py     MLP GAN and VAE on MNIST, sample grids as PNG
finetune.py        freeze / unfreeze / replace_head and a pretrain-then-fine-tune demo
images.py          save_image_grid (PNG)
=================  ==========================================================================

Models with ``datasets`` train with ``tinygrad-edu train NAME``; the others (synthetic tasks,
generative models) train with the script named in ``example``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .cnn import CifarNet, KerasCNN, LeNet5, SmallVGG
from .gan import GAN, GANConfig
from .gpt import GPT, GPTConfig
from .mlp import MLP, MLPConfig, ToyNet
from .ncf import NCF, NCFConfig
from .resnet import BasicBlock, ResNet, ResNetConfig, resnet18
from .rnn import RNNClassifierConfig, SimpleRNNClassifier, TextClassifier, TextClassifierConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .style_transfer import FeatureExtractor
from .transformer import Seq2SeqTransformer, TransformerConfig
from .vae import VAE, VAEConfig


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: object  # callable(**kwargs) -> Module
    description: str
    datasets: tuple[str, ...]  # datasets the CLI can train it on; the first is the default
    input: str = "image"  # "image" (N, C, H, W) or "tokens" (N, T) int64; others: see example
    defaults: dict = field(default_factory=dict)
    # keyword arguments the CLI derives from the data and passes to the builder:
    # num_classes, out_features, in_channels, in_features, image_size, vocab_size
    data_args: tuple[str, ...] = ("num_classes", "in_channels")
    example: str | None = None  # the script that trains it, for models `train` cannot train
    # the CLI's training defaults for this model (lr, schedule), overridable by flags
    train_defaults: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"models: a model named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_models() -> list[ModelSpec]:
    return list(_REGISTRY.values())


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name.lower()]
    except KeyError:
        raise ValueError(
            f"models: unknown model {name!r}; available: {', '.join(sorted(_REGISTRY))}"
        ) from None


def get_model(name: str, **kwargs):
    """Build the registered model ``name`` (keyword arguments override its defaults)."""
    spec = get_spec(name)
    return spec.builder(**{**spec.defaults, **kwargs})


IMAGE_SETS = ("mnist", "fashion-mnist", "digits")
MNIST_SIZED = ("mnist", "fashion-mnist")  # 28x28: LeNet-5's and the Keras CNN's pooling needs

register(ModelSpec("mlp", MLP, "MLP 784-128-10 (ReLU)", IMAGE_SETS,
                   data_args=("in_features", "out_features")))
register(ModelSpec("lenet", LeNet5, "LeNet-5 (ReLU, max pooling)", MNIST_SIZED,
                   train_defaults={"lr": 3e-3, "schedule": "warmup-linear"}))
register(ModelSpec("keras-cnn", KerasCNN, "Conv32-Pool-Conv64-Pool-Conv64-Dense64-Dense10",
                   MNIST_SIZED))
register(ModelSpec("cifar-net", CifarNet, "PyTorch tutorial CIFAR-10 net (conv 6/16, fc 120/84)",
                   ("cifar10",)))
register(ModelSpec("vgg-small", SmallVGG, "small VGG-style net with BatchNorm", IMAGE_SETS))
register(ModelSpec("resnet18", ResNet, "ResNet-18 [2,2,2,2] BasicBlocks, width 64, 3x3 stem",
                   IMAGE_SETS + ("cifar10",)))
register(ModelSpec("resnet18-small", ResNet, "ResNet-18 layout at width 16 (CPU-sized)",
                   IMAGE_SETS + ("cifar10",), defaults={"width": 16}))
register(ModelSpec("rnn-mnist", SimpleRNNClassifier,
                   "LSTM over image rows (T=28 steps x 28 pixels) -> last hidden -> Linear",
                   ("mnist", "fashion-mnist"), data_args=("num_classes", "in_channels",
                                                          "image_size")))
register(ModelSpec("text-lstm", TextClassifier,
                   "Embedding(pad 0) + LSTM -> output at the last real token -> Linear",
                   ("rt-sentiment",), input="tokens", data_args=("num_classes", "vocab_size")))
register(ModelSpec("text-gru", TextClassifier,
                   "Embedding(pad 0) + bidirectional GRU -> mean over tokens -> Linear",
                   ("rt-sentiment",), input="tokens",
                   defaults={"cell": "gru", "bidirectional": True, "pooling": "mean"},
                   data_args=("num_classes", "vocab_size")))
register(ModelSpec("seq2seq", Seq2Seq, "LSTM encoder-decoder + Luong attention (reverse digits)",
                   (), input="src-tgt", example="examples/seq2seq_reverse.py"))
register(ModelSpec("transformer", Seq2SeqTransformer,
                   "nn.Transformer encoder-decoder (reverse digits)", (), input="src-tgt",
                   example="examples/transformer_reverse.py"))
register(ModelSpec("gpt", GPT, "tiny GPT, character-level LM on review snippets", (),
                   input="tokens", example="examples/gpt_char.py"))
register(ModelSpec("ncf", NCF, "neural collaborative filtering (synthetic low-rank ratings)",
                   (), input="user-item", example="examples/ncf_ratings.py"))
register(ModelSpec("gan", GAN, "MLP GAN on MNIST (generator + discriminator)", (),
                   input="noise", example="examples/gan_mnist.py"))
register(ModelSpec("vae", VAE, "VAE on MNIST (784-400-20, BCE + KL)", (), input="image",
                   example="examples/vae_mnist.py"))
register(ModelSpec("style-transfer", FeatureExtractor,
                   "random-init CNN features for Gram-matrix style transfer (L-BFGS on pixels)",
                   (), input="image", example="examples/style_transfer.py"))

__all__ = [
    "GAN", "GPT", "MLP", "NCF", "VAE", "BasicBlock", "CifarNet", "FeatureExtractor",
    "GANConfig", "GPTConfig", "KerasCNN", "LeNet5", "MLPConfig", "ModelSpec", "NCFConfig",
    "RNNClassifierConfig", "ResNet", "ResNetConfig", "Seq2Seq", "Seq2SeqConfig",
    "Seq2SeqTransformer", "SimpleRNNClassifier", "SmallVGG", "TextClassifier",
    "TextClassifierConfig", "ToyNet", "TransformerConfig", "VAEConfig", "get_model", "get_spec",
    "list_models", "register", "resnet18",
]
