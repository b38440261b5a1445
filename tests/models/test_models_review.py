"""Each seed model against a torch twin written from its docstring.

For every model: build it small, copy its weights into a plain ``torch.nn`` twin (the state_dict
keys map one to one, renamed where the layouts differ), and compare the forward output and the
gradient of every parameter on a tiny float64 batch, in train mode (BatchNorm on batch
statistics, and its running statistics afterwards) and in eval mode. torch is the test oracle
only; the library never imports it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.models import (
    GAN,
    GPT,
    MLP,
    NCF,
    VAE,
    CifarNet,
    FeatureExtractor,
    KerasCNN,
    LeNet5,
    ResNet,
    Seq2Seq,
    Seq2SeqTransformer,
    SimpleRNNClassifier,
    SmallVGG,
    TextClassifier,
    ToyNet,
)
from tinygrad_edu.models.gan import fit_gan
from tinygrad_edu.models.gpt import lm_loss
from tinygrad_edu.models.seq2seq import PAD, LuongAttention, make_sequence_task, sequence_loss
from tinygrad_edu.models.style_transfer import gram_matrix
from tinygrad_edu.models.vae import vae_loss

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional
torch.set_num_threads(1)

ATOL, RTOL = 1e-9, 1e-7  # float64


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x.detach().numpy())


def copy_weights(model, twin, rename=None) -> None:
    """Load ``model``'s state_dict into ``twin`` (strict: every key must map one to one)."""
    rename = rename or (lambda k: k)
    state = {rename(k): torch.from_numpy(np.array(v.numpy())) for k, v in
             model.state_dict().items()}
    twin.load_state_dict(state, strict=True)


def assert_close(actual, expected, what, atol=ATOL, rtol=RTOL) -> None:
    np.testing.assert_allclose(_np(actual), _np(expected), atol=atol, rtol=rtol, err_msg=what)


def assert_same_grads(model, twin, rename=None, atol=ATOL, rtol=RTOL) -> None:
    """Every parameter's gradient matches its twin's (and they list the same parameters)."""
    rename = rename or (lambda k: k)
    twin_params = dict(twin.named_parameters())
    names = [rename(n) for n, _ in model.named_parameters()]
    assert sorted(names) == sorted(twin_params), "parameter lists differ"
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient"
        assert_close(p.grad, twin_params[rename(name)].grad, f"grad of {name}", atol, rtol)


def assert_same_buffers(model, twin, rename=None) -> None:
    rename = rename or (lambda k: k)
    twin_buffers = dict(twin.named_buffers())
    for name, b in model.named_buffers():
        assert_close(b, twin_buffers[rename(name)], f"buffer {name}")


def run_both(model, twin, tg_inputs, torch_inputs, loss_fn_tg=None, loss_fn_torch=None,
             rename=None):
    """Forward both, backward a random projection of the output, compare output and grads."""
    out = model(*tg_inputs)
    ref = twin(*torch_inputs)
    assert_close(out, ref, "forward")
    seed = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    if loss_fn_tg is None:
        (out * tg.tensor(seed)).sum().backward()
        (ref * torch.from_numpy(seed)).sum().backward()
    else:
        loss_fn_tg(out).backward()
        loss_fn_torch(ref).backward()
    assert_same_grads(model, twin, rename)
    return out, ref


class Twin(tnn.Module):
    """A torch module from named children and a forward function of (self, *inputs)."""

    def __init__(self, forward, **children):
        super().__init__()
        for name, child in children.items():
            setattr(self, name, child)
        self._forward = forward

    def forward(self, *inputs):
        return self._forward(self, *inputs)


def _images(n, c, h, w=None, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w or h))
    return tg.tensor(x), torch.from_numpy(x)


# ----------------------------------------------------------------------------------------------
# MLP, ToyNet, CNNs
# ----------------------------------------------------------------------------------------------


def test_mlp_matches_torch_twin():
    tg.manual_seed(0)
    model = MLP(in_features=12, hidden=(7, 5), out_features=3).double()
    net = tnn.Sequential(tnn.Flatten(), tnn.Linear(12, 7), tnn.ReLU(), tnn.Linear(7, 5),
                         tnn.ReLU(), tnn.Linear(5, 3))
    twin = Twin(lambda self, x: self.net(x), net=net).double()
    copy_weights(model, twin)
    x, tx = _images(4, 3, 2, 2)
    run_both(model, twin, (x,), (tx,))
    dropped = MLP(in_features=12, hidden=(7,), dropout=0.5)
    assert [type(m).__name__ for m in dropped.net] == ["Flatten", "Linear", "ReLU", "Dropout",
                                                       "Linear"]


def test_toynet_matches_torch_twin():
    model = ToyNet().double()
    twin = tnn.ModuleDict({"hidden": tnn.Linear(2, 3), "out": tnn.Linear(3, 1)}).double()
    copy_weights(model, twin)
    x = np.random.default_rng(0).standard_normal((5, 2))
    out = model(tg.tensor(x))
    ref = twin["out"](torch.sigmoid(twin["hidden"](torch.from_numpy(x))))
    assert_close(out, ref, "forward")
    assert model.num_parameters() == 2 * 3 + 3 + 3 + 1


class TorchLeNet5(tnn.Module):
    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(in_channels, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2))
        self.classifier = tnn.Sequential(
            tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
            tnn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class TorchKerasCNN(tnn.Module):
    def __init__(self, num_classes=10, in_channels=1, side=3):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(in_channels, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(32, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(64, 64, 3), tnn.ReLU())
        self.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(64 * side * side, 64),
                                         tnn.ReLU(), tnn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class TorchCifarNet(tnn.Module):
    """The PyTorch "Training a classifier" tutorial's Net, verbatim."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 6, 5)
        self.pool = tnn.MaxPool2d(2, 2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1 = tnn.Linear(16 * 5 * 5, 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(TF.relu(self.conv1(x)))
        x = self.pool(TF.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = TF.relu(self.fc1(x))
        x = TF.relu(self.fc2(x))
        return self.fc3(x)


@pytest.mark.parametrize("name", ["lenet", "keras", "cifar"])
def test_cnn_matches_torch_twin(name):
    tg.manual_seed(0)
    if name == "lenet":
        model, twin, x = LeNet5(num_classes=4), TorchLeNet5(4), _images(2, 1, 28)
    elif name == "keras":
        model, twin, x = KerasCNN(num_classes=4), TorchKerasCNN(4), _images(2, 1, 28)
    else:
        model, twin, x = CifarNet(), TorchCifarNet(), _images(2, 3, 32)
    model, twin = model.double(), twin.double()
    copy_weights(model, twin)
    run_both(model, twin, (x[0],), (x[1],))


def test_keras_cnn_other_image_size_matches_twin():
    tg.manual_seed(0)
    model = KerasCNN(num_classes=3, in_channels=3, image_size=32).double()  # 32 -> ... -> 4
    twin = TorchKerasCNN(3, 3, side=4).double()
    copy_weights(model, twin)
    x = _images(2, 3, 32)
    run_both(model, twin, (x[0],), (x[1],))


def test_keras_cnn_rejects_an_image_size_too_small_for_its_layers():
    # 17 -> 15 -> 7 -> 5 -> 2 -> 0: nothing left after the third convolution (it used to
    # build a Linear(64 * (-2)**2, 64) without complaint at image_size=8)
    for size in (8, 17):
        with pytest.raises(ValueError, match="KerasCNN: image_size must be at least 18"):
            KerasCNN(image_size=size)
    assert KerasCNN(image_size=18)(tg.randn(1, 1, 18, 18)).shape == (1, 10)


def test_small_vgg_matches_torch_twin_train_and_eval():
    tg.manual_seed(0)
    model = SmallVGG(num_classes=3, in_channels=2, widths=(4, 6)).double()
    layers = []
    channels = 2
    for width in (4, 6):
        for _ in range(2):
            layers += [tnn.Conv2d(channels, width, 3, padding=1, bias=False),
                       tnn.BatchNorm2d(width), tnn.ReLU()]
            channels = width
        layers.append(tnn.MaxPool2d(2))
    twin = Twin(lambda self, x: self.classifier(self.pool(self.features(x)).flatten(1)),
                features=tnn.Sequential(*layers), pool=tnn.AdaptiveAvgPool2d(1),
                classifier=tnn.Linear(6, 3)).double()
    copy_weights(model, twin)
    x = _images(3, 2, 8)
    run_both(model, twin, (x[0],), (x[1],))  # train mode: batch statistics
    assert_same_buffers(model, twin)  # running statistics after one train-mode forward
    model.eval()
    twin.eval()
    with torch.no_grad():
        assert_close(model(x[0]), twin(x[1]), "eval forward")


@pytest.mark.parametrize("model_fn, shape, match", [
    (lambda: LeNet5(), (2, 3, 28, 28), r"LeNet5: expected images \(N, 1, 28, 28\)"),
    (lambda: LeNet5(), (2, 1, 32, 32), r"LeNet5: expected images \(N, 1, 28, 28\)"),
    (lambda: KerasCNN(), (2, 1, 32, 32), r"KerasCNN: expected images \(N, 1, 28, 28\)"),
    (lambda: CifarNet(), (2, 3, 28, 28), r"CifarNet: expected images \(N, 3, 32, 32\)"),
    (lambda: CifarNet(), (2, 28, 28), r"CifarNet: expected images \(N, 3, 32, 32\)"),
    (lambda: SmallVGG(widths=(4,)), (2, 3, 8, 8), r"SmallVGG: expected images \(N, 1, H, W\)"),
    (lambda: MLP(), (2, 1, 32, 32), r"MLP: expected inputs with 784 features"),
])
def test_bad_images_give_errors_naming_the_model(model_fn, shape, match):
    with pytest.raises(ValueError, match=match):
        model_fn()(tg.randn(*shape))


# ----------------------------------------------------------------------------------------------
# ResNet (torchvision's BasicBlock layout)
# ----------------------------------------------------------------------------------------------


class TorchBasicBlock(tnn.Module):
    """torchvision's BasicBlock, with the projection called ``shortcut`` (torchvision:
    ``downsample``)."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        if stride != 1 or inplanes != planes:
            self.shortcut = tnn.Sequential(tnn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                           tnn.BatchNorm2d(planes))
        else:
            self.shortcut = tnn.Identity()

    def forward(self, x):
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TorchResNet(tnn.Module):
    def __init__(self, layers, width, in_channels, num_classes, small_input):
        super().__init__()
        w = width
        if small_input:
            self.stem = tnn.Sequential(tnn.Conv2d(in_channels, w, 3, 1, 1, bias=False),
                                       tnn.BatchNorm2d(w), tnn.ReLU())
        else:
            self.stem = tnn.Sequential(tnn.Conv2d(in_channels, w, 7, 2, 3, bias=False),
                                       tnn.BatchNorm2d(w), tnn.ReLU(), tnn.MaxPool2d(3, 2, 1))
        channels = w
        for k, (blocks, stride) in enumerate(zip(layers, (1, 2, 2, 2), strict=True)):
            planes = w * 2**k
            stage = [TorchBasicBlock(channels, planes, stride)]
            stage += [TorchBasicBlock(planes, planes) for _ in range(blocks - 1)]
            setattr(self, f"layer{k + 1}", tnn.Sequential(*stage))
            channels = planes
        self.avgpool = tnn.AdaptiveAvgPool2d(1)
        self.fc = tnn.Linear(8 * w, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@pytest.mark.parametrize("small_input, size", [(True, 12), (False, 24)])
def test_resnet_matches_torchvision_style_twin(small_input, size):
    tg.manual_seed(0)
    layers = (2, 1, 1, 1)
    model = ResNet(layers=layers, width=2, in_channels=3, num_classes=5,
                   small_input=small_input).double()
    twin = TorchResNet(layers, 2, 3, 5, small_input).double()
    copy_weights(model, twin)
    x = _images(3, 3, size)
    run_both(model, twin, (x[0],), (x[1],))
    assert_same_buffers(model, twin)
    model.eval()
    twin.eval()
    with torch.no_grad():
        assert_close(model(x[0]), twin(x[1]), "eval forward")


def test_resnet_init_is_torchvisions():
    tg.manual_seed(0)
    model = ResNet(width=16, in_channels=3, num_classes=10)
    conv = model.layer3[0].conv1.weight.detach().numpy()  # (64, 32, 3, 3): fan_out = 64 * 9
    assert abs(conv.std() - math.sqrt(2.0 / (64 * 9))) < 0.05 * math.sqrt(2.0 / (64 * 9))
    assert np.all(model.layer3[0].bn1.weight.detach().numpy() == 1)
    assert np.all(model.layer3[0].bn1.bias.detach().numpy() == 0)
    twin = TorchResNet((2, 2, 2, 2), 64, 3, 10, True)
    ours = ResNet()
    assert ours.num_parameters() == sum(p.numel() for p in twin.parameters()) == 11_173_962


# ----------------------------------------------------------------------------------------------
# Recurrent classifiers
# ----------------------------------------------------------------------------------------------

_TORCH_CELLS = {"rnn": tnn.RNN, "lstm": tnn.LSTM, "gru": tnn.GRU}


@pytest.mark.parametrize("cell, bidirectional, num_layers", [
    ("rnn", False, 1), ("lstm", True, 2), ("gru", False, 2), ("gru", True, 1)])
def test_rnn_classifier_matches_torch_twin(cell, bidirectional, num_layers):
    tg.manual_seed(0)
    model = SimpleRNNClassifier(cell=cell, image_size=5, in_channels=2, hidden_size=4,
                                num_layers=num_layers, bidirectional=bidirectional,
                                num_classes=3).double()

    def forward(self, x):  # (N, C, H, W) -> rows (N, H, C * W) -> top layer's h_T
        N, C, H, W = x.shape
        _, h_n = self.rnn(x.permute(0, 2, 1, 3).reshape(N, H, C * W))
        h_n = h_n[0] if isinstance(h_n, tuple) else h_n
        last = torch.cat([h_n[-2], h_n[-1]], -1) if bidirectional else h_n[-1]
        return self.fc(last)

    D = 2 if bidirectional else 1
    twin = Twin(forward, rnn=_TORCH_CELLS[cell](10, 4, num_layers, batch_first=True,
                                                bidirectional=bidirectional),
                fc=tnn.Linear(D * 4, 3)).double()
    copy_weights(model, twin)
    x = _images(3, 2, 6, 5)
    run_both(model, twin, (x[0],), (x[1],))


def test_rnn_classifier_checks_channels_and_width_separately():
    model = SimpleRNNClassifier(cell="gru", hidden_size=4, image_size=28, in_channels=1)
    # 2 channels x 14 columns = 28 features per row, but not the images the model reads
    with pytest.raises(ValueError, match=r"SimpleRNNClassifier: expected images \(N, 1, H, 28"):
        model(tg.randn(2, 2, 28, 14))


def _padded_ids(seed=0, B=4, T=6, vocab=9):
    rng = np.random.default_rng(seed)
    lengths = np.array([6, 3, 1, 4])[:B]
    ids = np.zeros((B, T), dtype=np.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.integers(1, vocab, n)
    return ids, lengths


@pytest.mark.parametrize("cell, bidirectional, pooling", [
    ("lstm", False, "last"), ("gru", False, "last"), ("lstm", True, "last"),
    ("gru", True, "mean"), ("lstm", False, "max"), ("gru", True, "max")])
def test_text_classifier_matches_torch_twin(cell, bidirectional, pooling):
    tg.manual_seed(0)
    model = TextClassifier(vocab_size=9, embed_dim=3, hidden_size=4, cell=cell,
                           bidirectional=bidirectional, pooling=pooling, dropout=0.0,
                           num_classes=2).double()
    ids, lengths = _padded_ids()
    mask = torch.from_numpy(ids != 0)
    H = 4

    def forward(self, ids):
        x = self.embedding(ids)
        if pooling == "last" and not bidirectional:
            # the unidirectional claim: the output at the last real token is the state a packed
            # sequence (no pads at all) ends in
            packed = tnn.utils.rnn.pack_padded_sequence(x, torch.from_numpy(lengths),
                                                        batch_first=True, enforce_sorted=False)
            _, h_n = self.rnn(packed)
            h_n = h_n[0] if isinstance(h_n, tuple) else h_n
            return self.fc(h_n[-1])
        out, _ = self.rnn(x)  # (B, T, D * H)
        if pooling == "last":
            last = out[torch.arange(len(ids)), torch.from_numpy(lengths - 1)]
            pooled = torch.cat([last[:, :H], out[:, 0, H:]], -1)
        elif pooling == "mean":
            pooled = (out * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        else:
            pooled = out.masked_fill(~mask[..., None], -math.inf).amax(1)
        return self.fc(pooled)

    D = 2 if bidirectional else 1
    twin = Twin(forward, embedding=tnn.Embedding(9, 3, padding_idx=0),
                rnn=_TORCH_CELLS[cell](3, H, batch_first=True, bidirectional=bidirectional),
                fc=tnn.Linear(D * H, 2)).double()
    copy_weights(model, twin)
    run_both(model, twin, (tg.tensor(ids),), (torch.from_numpy(ids),))


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_text_classifier_all_pad_row_reads_one_token(pooling):
    """An all-pad row counts as one token (the docstring's ``lengths`` rule) in every pooling:
    its pooled vector is the output at position 0, not a -1e9 max or a 0 mean."""
    tg.manual_seed(0)
    model = TextClassifier(vocab_size=9, embed_dim=3, hidden_size=4, pooling=pooling,
                           dropout=0.0).double().eval()
    ids = np.array([[0, 0, 0], [0, 0, 0]], dtype=np.int64)
    reference = TextClassifier(vocab_size=9, embed_dim=3, hidden_size=4, pooling="last",
                               dropout=0.0).double().eval()
    reference.load_state_dict(model.state_dict())
    with tg.no_grad():
        out = model(tg.tensor(ids)).numpy()
        ref = reference(tg.tensor(ids)).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_text_classifier_eval_mode_turns_dropout_off_and_restores():
    tg.manual_seed(0)
    model = TextClassifier(vocab_size=9, embed_dim=3, hidden_size=4, dropout=0.5).double()
    ids = tg.tensor(_padded_ids()[0])
    model.eval()
    with tg.no_grad():
        a, b = model(ids).numpy(), model(ids).numpy()
    np.testing.assert_array_equal(a, b)
    model.train()
    with tg.no_grad():
        c, d = model(ids).numpy(), model(ids).numpy()
    assert not np.allclose(c, d)


@pytest.mark.parametrize("model_fn, ids, match", [
    (lambda: TextClassifier(vocab_size=5, embed_dim=2, hidden_size=2), [[1, 7]],
     r"TextClassifier: token ids must be in \[0, 5\), got 7"),
    (lambda: GPT(vocab_size=6, block_size=4, n_layer=1, n_head=1, n_embd=4), [[1, 6]],
     r"GPT: token ids must be in \[0, 6\), got 6"),
    (lambda: GPT(vocab_size=6, block_size=4, n_layer=1, n_head=1, n_embd=4), [[-1, 2]],
     r"GPT: token ids must be in \[0, 6\), got -1"),
])
def test_token_ids_out_of_range_name_the_model(model_fn, ids, match):
    with pytest.raises(IndexError, match=match):
        model_fn()(tg.tensor(np.array(ids)))


def test_seq_models_reject_ids_out_of_range():
    src, tgt = tg.tensor(np.array([[3, 17]])), tg.tensor(np.array([[1, 4]]))
    with pytest.raises(IndexError, match=r"Seq2Seq: source ids must be in \[0, 13\), got 17"):
        Seq2Seq(hidden_size=4, embed_dim=2)(src, tgt)
    with pytest.raises(IndexError, match=r"Seq2SeqTransformer: target ids must be in \[0, 13\)"):
        Seq2SeqTransformer(d_model=4, nhead=1, dim_feedforward=4)(tgt, tg.tensor([[1, 13]]))
    with pytest.raises(IndexError, match=r"NCF: item ids must be in \[0, 3\), got 3"):
        NCF(num_users=3, num_items=3)(tg.tensor([0, 1]), tg.tensor([0, 3]))


# ----------------------------------------------------------------------------------------------
# Seq2Seq: LSTM encoder-decoder with Luong attention
# ----------------------------------------------------------------------------------------------


class TorchSeq2Seq(tnn.Module):
    """Encoder: a packed nn.LSTM (the state after each source's last real token); decoder: an
    LSTM from that state, Luong attention over the encoder outputs (pads masked),
    h~ = tanh(W_c [c; h]), logits = W_o h~."""

    def __init__(self, V, E, H, L, score):
        super().__init__()
        self.enc_embedding = tnn.Embedding(V, E, padding_idx=0)
        self.enc_lstm = tnn.LSTM(E, H, L, batch_first=True)
        self.embedding = tnn.Embedding(V, E, padding_idx=0)
        self.lstm = tnn.LSTM(E, H, L, batch_first=True)
        self.W_a = tnn.Linear(H, H, bias=False) if score == "general" else None
        self.combine = tnn.Linear(2 * H, H)
        self.out = tnn.Linear(H, V)

    def forward(self, src, tgt_in):
        mask = src != 0  # (B, S)
        lengths = mask.sum(1)
        packed = tnn.utils.rnn.pack_padded_sequence(self.enc_embedding(src), lengths,
                                                    batch_first=True, enforce_sorted=False)
        enc_out, state = self.enc_lstm(packed)
        enc_out, _ = tnn.utils.rnn.pad_packed_sequence(enc_out, batch_first=True,
                                                       total_length=src.shape[1])
        h, _ = self.lstm(self.embedding(tgt_in), state)  # (B, T, H)
        keys = enc_out if self.W_a is None else self.W_a(enc_out)
        scores = h @ keys.transpose(1, 2)  # (B, T, S)
        weights = scores.masked_fill(~mask[:, None], -math.inf).softmax(-1)
        context = weights @ enc_out
        return self.out(torch.tanh(self.combine(torch.cat([context, h], -1))))


def _seq2seq_rename(key: str) -> str:
    """Our encoder's LSTMCell per layer -> nn.LSTM's per-layer names."""
    if key.startswith("encoder.cells."):
        _, _, layer, name = key.split(".")
        return f"enc_lstm.{name}_l{layer}"
    if key == "encoder.embedding.weight":
        return "enc_embedding.weight"
    return (key.replace("decoder.lstm.", "lstm.").replace("decoder.attention.", "")
            .replace("decoder.", ""))


@pytest.mark.parametrize("score, num_layers", [("dot", 1), ("general", 2)])
def test_seq2seq_matches_torch_twin(score, num_layers):
    tg.manual_seed(0)
    model = Seq2Seq(embed_dim=3, hidden_size=5, num_layers=num_layers, attention=score).double()
    twin = TorchSeq2Seq(13, 3, 5, num_layers, score).double()
    copy_weights(model, twin, _seq2seq_rename)
    task = make_sequence_task("reverse", num_samples=4, min_len=1, max_len=5, seed=3)
    src, tgt_in, tgt_out = (tg.tensor(a) for a in (task.src, task.tgt_in, task.tgt_out))
    tsrc, ttgt_in, ttgt_out = (torch.from_numpy(a) for a in (task.src, task.tgt_in,
                                                             task.tgt_out))
    run_both(model, twin, (src, tgt_in), (tsrc, ttgt_in),
             lambda out: sequence_loss(out, tgt_out),
             lambda ref: TF.cross_entropy(ref.reshape(-1, 13), ttgt_out.reshape(-1),
                                          ignore_index=PAD),
             rename=_seq2seq_rename)


def test_seq2seq_greedy_decode_matches_step_by_step_argmax():
    tg.manual_seed(0)
    model = Seq2Seq(embed_dim=3, hidden_size=6).double().train()
    task = make_sequence_task("reverse", num_samples=3, min_len=2, max_len=4, seed=1)
    src = tg.tensor(task.src)
    out = model.greedy_decode(src, max_len=4)
    assert out.shape == (3, 4) and model.training  # mode restored
    # re-running teacher forcing on <bos> + the decoded prefix gives the same argmaxes
    prefix = np.concatenate([np.ones((3, 1), dtype=np.int64), out[:, :-1]], axis=1)
    with tg.no_grad():
        logits = model.eval()(src, tg.tensor(prefix)).numpy()
    np.testing.assert_array_equal(logits.argmax(-1), out)


def test_luong_attention_masks_pads_and_sums_to_one():
    attn = LuongAttention(4, "general").double()
    mask = tg.tensor(np.array([[True, True, False], [True, False, False]]))
    _, weights = attn(tg.randn(2, 5, 4, dtype=tg.float64), tg.randn(2, 3, 4, dtype=tg.float64),
                      mask)
    w = weights.detach().numpy()
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)
    assert np.all(w[0, :, 2] == 0) and np.all(w[1, :, 1:] == 0)


# ----------------------------------------------------------------------------------------------
# Seq2SeqTransformer: nn.Transformer tutorial layout
# ----------------------------------------------------------------------------------------------


class TorchSeq2SeqTransformer(tnn.Module):
    def __init__(self, V, d, nhead, enc_layers, dec_layers, ff, max_len):
        super().__init__()
        self.src_tok_emb = tnn.Module()
        self.src_tok_emb.embedding = tnn.Embedding(V, d, padding_idx=0)
        self.tgt_tok_emb = tnn.Module()
        self.tgt_tok_emb.embedding = tnn.Embedding(V, d, padding_idx=0)
        self.positional_encoding = tnn.Module()
        position = torch.arange(max_len)[:, None]
        div_term = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, 1, d, dtype=torch.float64)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.positional_encoding.register_buffer("pe", pe)
        self.transformer = tnn.Transformer(d, nhead, enc_layers, dec_layers, ff, dropout=0.0,
                                           batch_first=True)
        self.generator = tnn.Linear(d, V)
        self.d = d

    def embed(self, table, ids):
        x = table.embedding(ids) * math.sqrt(self.d)
        return x + self.positional_encoding.pe[:ids.shape[1], 0]

    def forward(self, src, tgt_in):
        src_pad = src == 0
        T = tgt_in.shape[1]
        tgt_mask = torch.ones(T, T, dtype=torch.bool).triu(1)  # True = may not attend
        y = self.transformer(self.embed(self.src_tok_emb, src), self.embed(self.tgt_tok_emb,
                                                                             tgt_in),
                             tgt_mask=tgt_mask, src_key_padding_mask=src_pad,
                             tgt_key_padding_mask=tgt_in == 0, memory_key_padding_mask=src_pad)
        return self.generator(y)


def test_transformer_matches_torch_twin():
    tg.manual_seed(0)
    model = Seq2SeqTransformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=2,
                               dim_feedforward=12, max_len=16).double()
    twin = TorchSeq2SeqTransformer(13, 8, 2, 1, 2, 12, 16).double()
    copy_weights(model, twin)
    task = make_sequence_task("sort", num_samples=3, min_len=2, max_len=5, seed=2)
    src, tgt_in, tgt_out = (tg.tensor(a) for a in (task.src, task.tgt_in, task.tgt_out))
    tsrc, ttgt_in, ttgt_out = (torch.from_numpy(a) for a in (task.src, task.tgt_in,
                                                             task.tgt_out))
    run_both(model, twin, (src, tgt_in), (tsrc, ttgt_in),
             lambda out: sequence_loss(out, tgt_out),
             lambda ref: TF.cross_entropy(ref.reshape(-1, 13), ttgt_out.reshape(-1),
                                          ignore_index=PAD))
    emb = model.src_tok_emb.embedding.weight.detach().numpy()
    assert np.all(emb[PAD] == 0)  # the pad row starts at zero


def test_transformer_greedy_decode_restores_mode_and_matches_teacher_forcing():
    tg.manual_seed(0)
    model = Seq2SeqTransformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=8, dropout=0.1).double().train()
    task = make_sequence_task("reverse", num_samples=2, min_len=2, max_len=4, seed=1)
    src = tg.tensor(task.src)
    out = model.greedy_decode(src, max_len=5)
    assert out.shape == (2, 5) and model.training
    prefix = np.concatenate([np.ones((2, 1), dtype=np.int64), out[:, :-1]], axis=1)
    with tg.no_grad():
        logits = model.eval()(src, tg.tensor(prefix)).numpy()
    keep = np.cumprod(prefix != PAD, axis=1).astype(bool)  # until a decoded <pad>, if any
    np.testing.assert_array_equal(logits.argmax(-1)[keep], out[keep])


# ----------------------------------------------------------------------------------------------
# GPT (nanoGPT / GPT-2 blocks)
# ----------------------------------------------------------------------------------------------


class TorchBlock(tnn.Module):
    def __init__(self, C, nh, bias):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(C, bias=bias)
        self.attn = tnn.Module()
        self.attn.c_attn = tnn.Linear(C, 3 * C, bias=bias)
        self.attn.c_proj = tnn.Linear(C, C, bias=bias)
        self.ln_2 = tnn.LayerNorm(C, bias=bias)
        self.mlp = tnn.Module()
        self.mlp.c_fc = tnn.Linear(C, 4 * C, bias=bias)
        self.mlp.c_proj = tnn.Linear(4 * C, C, bias=bias)
        self.nh = nh

    def attention(self, x):
        B, T, C = x.shape
        q, k, v = self.attn.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.nh)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~causal, -math.inf).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.attn.c_proj(y)

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp.c_proj(TF.gelu(self.mlp.c_fc(self.ln_2(x))))


class TorchGPT(tnn.Module):
    def __init__(self, V, block_size, L, nh, C, bias=True, tie=True):
        super().__init__()
        self.wte = tnn.Embedding(V, C)
        self.wpe = tnn.Embedding(block_size, C)
        self.h = tnn.ModuleList([TorchBlock(C, nh, bias) for _ in range(L)])
        self.ln_f = tnn.LayerNorm(C, bias=bias)
        self.lm_head = tnn.Linear(C, V, bias=False)
        if tie:
            self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


@pytest.mark.parametrize("bias, tie", [(True, True), (False, False)])
def test_gpt_matches_nanogpt_twin(bias, tie):
    tg.manual_seed(0)
    model = GPT(vocab_size=11, block_size=6, n_layer=2, n_head=2, n_embd=8, bias=bias,
                tie_weights=tie).double()
    twin = TorchGPT(11, 6, 2, 2, 8, bias, tie).double()
    copy_weights(model, twin)
    idx = np.random.default_rng(0).integers(0, 11, (3, 5))
    targets = np.random.default_rng(1).integers(0, 11, (3, 5))
    run_both(model, twin, (tg.tensor(idx),), (torch.from_numpy(idx),),
             lambda out: lm_loss(out, tg.tensor(targets)),
             lambda ref: TF.cross_entropy(ref.reshape(-1, 11), torch.from_numpy(targets)
                                          .reshape(-1)))
    assert (model.lm_head.weight is model.wte.weight) == tie
    n_twin = sum(p.numel() for p in twin.parameters())  # a tied matrix counts once
    assert model.num_parameters() == n_twin


def test_gpt_init_is_gpt2s():
    tg.manual_seed(0)
    model = GPT(vocab_size=300, block_size=64, n_layer=4, n_head=4, n_embd=64)

    def std(p):
        return float(p.detach().numpy().std())

    assert abs(std(model.wte.weight) - 0.02) < 0.002
    assert abs(std(model.h[0].attn.c_attn.weight) - 0.02) < 0.002
    assert abs(std(model.h[0].mlp.c_proj.weight) - 0.02 / math.sqrt(8)) < 0.001
    assert abs(std(model.h[3].attn.c_proj.weight) - 0.02 / math.sqrt(8)) < 0.002
    assert np.all(model.h[0].attn.c_attn.bias.detach().numpy() == 0)
    assert np.all(model.h[0].ln_1.weight.detach().numpy() == 1)


def _tiny_gpt(**kw):
    tg.manual_seed(0)
    return GPT(**{"vocab_size": 6, "block_size": 4, "n_layer": 1, "n_head": 2, "n_embd": 8,
                  **kw}).double()


def _last_logits(model, idx):
    with tg.no_grad():
        return model(tg.tensor(idx[:, -model.config.block_size:]))[:, -1].numpy()


def test_gpt_generate_top_k_1_is_greedy_and_crops_the_context():
    model = _tiny_gpt(dropout=0.2).eval()
    prompt = np.array([[1, 2], [3, 0]])
    out = model.generate(tg.tensor(prompt), max_new_tokens=5, top_k=1).numpy()
    assert out.shape == (2, 7) and out.dtype == np.int64
    np.testing.assert_array_equal(out[:, :2], prompt)
    idx = prompt
    for _ in range(5):  # longer than block_size = 4: only the last 4 tokens are seen
        idx = np.concatenate([idx, _last_logits(model, idx).argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(out, idx)


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.5, None), (2.0, 3)])
def test_gpt_generate_samples_from_softmax_of_logits_over_temperature(temperature, top_k):
    model = _tiny_gpt()
    with tg.no_grad():  # make the distribution far from uniform
        model.lm_head.weight.data[...] *= 40.0
    prompt = np.tile(np.array([[1, 4, 2]]), (3000, 1))
    tg.manual_seed(5)
    out = model.generate(tg.tensor(prompt), max_new_tokens=1, temperature=temperature,
                         top_k=top_k).numpy()[:, -1]
    logits = torch.from_numpy(_last_logits(model, prompt[:1])[0]) / temperature
    if top_k is not None:
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits, -1).numpy()
    freq = np.bincount(out, minlength=6) / len(out)
    sigma = np.sqrt(probs * (1 - probs) / len(out))
    assert np.all(np.abs(freq - probs) <= 5 * sigma + 1e-12), (freq, probs)
    if top_k is not None:
        assert np.all(freq[probs == 0] == 0)


def test_gpt_generate_restores_the_training_mode():
    model = _tiny_gpt(dropout=0.5)
    model.train()
    model.generate(tg.tensor([[1]]), max_new_tokens=2)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    model.generate(tg.tensor([[1]]), max_new_tokens=2)
    assert not any(m.training for m in model.modules())
    # and no graph: the output is a plain tensor
    assert not model.generate(tg.tensor([[1]]), max_new_tokens=1).requires_grad


def test_gpt_generate_argument_checks():
    model = _tiny_gpt()
    out = model.generate(tg.tensor([[1, 2]]), max_new_tokens=0)
    np.testing.assert_array_equal(out.numpy(), [[1, 2]])
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        model.generate(tg.tensor([[1]]), 1, top_k=0)
    with pytest.raises(ValueError, match="expected a prompt of token ids"):
        model.generate(tg.tensor([1, 2]), 1)
    with pytest.raises(ValueError, match=r"GPT: expected token ids \(B, T\)"):
        model(tg.tensor([1, 2]))


def test_model_reprs_count_parameters():
    model = _tiny_gpt()
    text = repr(model)
    assert text.startswith("GPT(") and "(h): ModuleList" in text
    assert f"# {model.num_parameters():,} parameters" in text
    resnet = ResNet(width=2, in_channels=1, num_classes=3)
    assert f"# {resnet.num_parameters():,} parameters" in repr(resnet)


# ----------------------------------------------------------------------------------------------
# VAE (the PyTorch example), GAN, NCF
# ----------------------------------------------------------------------------------------------


class TorchVAE(tnn.Module):
    """pytorch/examples vae/main.py, with fc21/fc22 named fc_mu/fc_logvar and logits out."""

    def __init__(self, D, H, Z):
        super().__init__()
        self.fc1, self.fc_mu, self.fc_logvar = tnn.Linear(D, H), tnn.Linear(H, Z), tnn.Linear(H, Z)
        self.fc3, self.fc4 = tnn.Linear(Z, H), tnn.Linear(H, D)

    def forward(self, x, eps):
        h = TF.relu(self.fc1(x.flatten(1)))
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.fc4(TF.relu(self.fc3(z))), mu, logvar


def _torch_vae_loss(logits, x, mu, logvar):
    """The example's loss (BCE summed + KLD), divided by the batch size."""
    B = x.shape[0]
    bce = TF.binary_cross_entropy(torch.sigmoid(logits), x.reshape(B, -1), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + kld) / B, bce / B, kld / B


@pytest.mark.parametrize("training", [True, False])
def test_vae_and_its_loss_match_the_pytorch_example(training):
    tg.manual_seed(0)
    model = VAE(in_features=16, hidden=6, latent_dim=3).double().train(training)
    twin = TorchVAE(16, 6, 3).double()
    copy_weights(model, twin)
    x_np = np.random.default_rng(0).uniform(0.05, 0.95, (4, 1, 4, 4))
    x, tx = tg.tensor(x_np), torch.from_numpy(x_np)
    tg.manual_seed(7)
    logits, mu, logvar = model(x)
    tg.manual_seed(7)  # the same eps: reparameterize draws randn_like(std) and nothing else
    eps = tg.randn(4, 3, dtype=tg.float64).numpy() if training else np.zeros((4, 3))
    ref = twin(tx, torch.from_numpy(eps))
    for ours, theirs, what in zip((logits, mu, logvar), ref, ("logits", "mu", "logvar"),
                                  strict=True):
        assert_close(ours, theirs, what)
    losses = vae_loss(logits, x, mu, logvar)
    ref_losses = _torch_vae_loss(ref[0], tx, ref[1], ref[2])
    for ours, theirs, what in zip(losses, ref_losses, ("loss", "bce", "kl"), strict=True):
        assert_close(ours, theirs, what)
    losses[0].backward()
    ref_losses[0].backward()
    assert_same_grads(model, twin)


def test_vae_kl_is_zero_at_the_prior_and_sample_shapes():
    mu = tg.zeros(3, 2, dtype=tg.float64)
    logvar = tg.zeros(3, 2, dtype=tg.float64)
    _, _, kl = vae_loss(tg.zeros(3, 4, dtype=tg.float64), tg.zeros(3, 4, dtype=tg.float64), mu,
                        logvar)
    assert kl.item() == 0.0
    vae = VAE(in_features=12, hidden=4, latent_dim=2)
    assert vae.sample(5).shape == (5, 12)  # 12 is no square: flat rows
    images = VAE(hidden=4, latent_dim=2).sample(2).numpy()
    assert images.shape == (2, 1, 28, 28) and images.min() >= 0 and images.max() <= 1


class TorchGenerator(tnn.Module):
    def __init__(self, z, hidden, D):
        super().__init__()
        layers, width = [], z
        for h in hidden:
            layers += [tnn.Linear(width, h), tnn.BatchNorm1d(h), tnn.ReLU()]
            width = h
        self.net = tnn.Sequential(*layers, tnn.Linear(width, D), tnn.Tanh())

    def forward(self, z):
        return self.net(z).reshape(len(z), 1, 4, 4)


class TorchDiscriminator(tnn.Module):
    def __init__(self, hidden, D):
        super().__init__()
        layers, width = [tnn.Flatten()], D
        for h in hidden:
            layers += [tnn.Linear(width, h), tnn.LeakyReLU(0.2)]
            width = h
        self.net = tnn.Sequential(*layers, tnn.Linear(width, 1))

    def forward(self, x):
        return self.net(x).reshape(-1)


def _tiny_gan():
    tg.manual_seed(0)
    gan = GAN(z_dim=3, g_hidden=(5,), d_hidden=(6,), image_shape=(1, 4, 4))
    twin = tnn.Module()
    twin.generator = TorchGenerator(3, (5,), 16)
    twin.discriminator = TorchDiscriminator((6,), 16)
    copy_weights(gan, twin)
    return gan, twin


def test_gan_networks_match_torch_twins_train_and_eval():
    gan, twin = _tiny_gan()
    gan, twin = gan.double(), twin.double()
    z = np.random.default_rng(0).standard_normal((4, 3))
    fake = gan.generator(tg.tensor(z))
    ref = twin.generator(torch.from_numpy(z))
    assert_close(fake, ref, "generator, train mode")
    assert_same_buffers(gan, twin)  # BatchNorm1d running statistics
    logits = gan.discriminator(fake)
    ref_logits = twin.discriminator(ref)
    assert_close(logits, ref_logits, "discriminator")
    logits.sum().backward()
    ref_logits.sum().backward()
    assert_same_grads(gan, twin)
    gan.eval()
    twin.eval()
    with torch.no_grad():
        assert_close(gan(tg.tensor(z)), twin.generator(torch.from_numpy(z)), "generator, eval")


def test_fit_gan_losses_match_a_torch_training_loop():
    """Two steps of fit_gan against the DCGAN-style loop written in torch (float32)."""
    gan, twin = _tiny_gan()
    images = np.random.default_rng(3).uniform(-1, 1, (10, 1, 4, 4)).astype(np.float32)
    tg.manual_seed(11)
    history = fit_gan(gan, images, steps=2, batch_size=4, seed=2)
    tg.manual_seed(11)  # fit_gan's z draws are the only draws from the library's generator
    zs = [tg.randn(4, 3).numpy() for _ in range(2)]
    rng = np.random.default_rng(2)
    bce = tnn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(twin.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(twin.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(4), torch.zeros(4)
    for step in range(2):
        x = torch.from_numpy(images[rng.integers(0, 10, 4)])
        fake = twin.generator(torch.from_numpy(zs[step]))
        d_loss = bce(twin.discriminator(x), ones) + bce(twin.discriminator(fake.detach()), zeros)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = bce(twin.discriminator(fake), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        assert history["d_loss"][step] == pytest.approx(d_loss.item(), rel=1e-5)
        assert history["g_loss"][step] == pytest.approx(g_loss.item(), rel=1e-5)


class TorchNCF(tnn.Module):
    def __init__(self, U, I, k, layers, k_mlp, mu):
        super().__init__()
        self.user_factors, self.item_factors = tnn.Embedding(U, k), tnn.Embedding(I, k)
        self.user_bias, self.item_bias = tnn.Embedding(U, 1), tnn.Embedding(I, 1)
        self.user_mlp, self.item_mlp = tnn.Embedding(U, k_mlp), tnn.Embedding(I, k_mlp)
        tower, width = [], 2 * k_mlp
        for h in layers:
            tower += [tnn.Linear(width, h), tnn.ReLU(), tnn.Dropout(0.0)]
            width = h
        self.tower = tnn.Sequential(*tower, tnn.Linear(width, 1))
        self.mu = mu

    def forward(self, u, i):
        r = (self.user_factors(u) * self.item_factors(i)).sum(1)
        r = r + self.user_bias(u)[:, 0] + self.item_bias(i)[:, 0]
        pair = torch.cat([self.user_mlp(u), self.item_mlp(i)], 1)
        return r + self.tower(pair)[:, 0] + self.mu


def test_ncf_matches_torch_twin():
    tg.manual_seed(0)
    model = NCF(num_users=5, num_items=4, embed_dim=3, mlp_layers=(6, 4), mlp_embed_dim=2,
                global_mean=3.5).double()
    with tg.no_grad():  # non-zero biases, so that their gradients are tested too
        model.user_bias.weight.data[...] = np.arange(5.0)[:, None] / 10
    twin = TorchNCF(5, 4, 3, (6, 4), 2, 3.5).double()
    copy_weights(model, twin)
    users, items = np.array([0, 4, 2, 2, 1]), np.array([1, 3, 0, 0, 2])
    run_both(model, twin, (tg.tensor(users), tg.tensor(items)),
             (torch.from_numpy(users), torch.from_numpy(items)))


# ----------------------------------------------------------------------------------------------
# Style transfer features
# ----------------------------------------------------------------------------------------------


def test_style_features_and_gram_match_torch():
    extractor = FeatureExtractor(seed=0).double()
    layers, channels = [], 3
    for _, width in FeatureExtractor.widths:  # conv 3x3 pad 1 + ReLU, or 2x2 average pooling
        if width is None:
            layers.append(tnn.AvgPool2d(2))
        else:
            layers += [tnn.Conv2d(channels, width, 3, padding=1), tnn.ReLU()]
            channels = width
    twin = Twin(lambda self, x: x, layers=tnn.Sequential(*layers)).double()
    copy_weights(extractor, twin)
    x = np.random.default_rng(0).uniform(0, 1, (1, 3, 8, 8))
    feats = extractor(tg.tensor(x))
    h = torch.from_numpy(x)
    relus = iter(["relu1", "relu2", "relu3", "relu4", "relu5"])
    for layer in twin.layers:
        h = layer(h)
        if isinstance(layer, tnn.ReLU):
            name = next(relus)
            assert_close(feats[name], h, name)
            F_ = h.reshape(1, h.shape[1], -1)
            gram = F_ @ F_.transpose(1, 2) / h[0].numel()
            assert_close(gram_matrix(feats[name]), gram, f"gram of {name}")
    assert not any(p.requires_grad for p in extractor.parameters())


def test_vae_rejects_inputs_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"VAE: expected inputs with 784 features"):
        VAE(hidden=4, latent_dim=2)(tg.rand(2, 1, 32, 32))


def test_parameter_counts_of_the_classic_layouts():
    assert MLP().num_parameters() == 784 * 128 + 128 + 128 * 10 + 10  # 784-128-10
    assert LeNet5().num_parameters() == 61_706
    assert KerasCNN().num_parameters() == 93_322  # the TensorFlow CNN tutorial's summary
    assert CifarNet().num_parameters() == 62_006
    assert CifarNet().num_parameters() == sum(p.numel() for p in TorchCifarNet().parameters())
    vae = VAE()  # 784-400-20
    assert (vae.fc1.in_features, vae.fc1.out_features, vae.fc_mu.out_features) == (784, 400, 20)


def test_eval_mode_turns_every_dropout_off_gpt_and_seq2seq():
    """With dropout > 0, eval-mode outputs equal the dropout-free twins'."""
    tg.manual_seed(0)
    gpt = GPT(vocab_size=7, block_size=5, n_layer=1, n_head=2, n_embd=4, dropout=0.4).double()
    twin = TorchGPT(7, 5, 1, 2, 4).double()
    copy_weights(gpt, twin)
    idx = np.array([[1, 2, 3, 4], [6, 5, 0, 1]])
    with tg.no_grad(), torch.no_grad():
        assert_close(gpt.eval()(tg.tensor(idx)), twin(torch.from_numpy(idx)), "GPT eval")
    s2s = Seq2Seq(embed_dim=3, hidden_size=4, num_layers=2, dropout=0.4).double()
    twin = TorchSeq2Seq(13, 3, 4, 2, "dot").double()
    copy_weights(s2s, twin, _seq2seq_rename)
    task = make_sequence_task("reverse", num_samples=3, max_len=4, seed=0)
    with tg.no_grad(), torch.no_grad():
        assert_close(s2s.eval()(tg.tensor(task.src), tg.tensor(task.tgt_in)),
                     twin(torch.from_numpy(task.src), torch.from_numpy(task.tgt_in)),
                     "Seq2Seq eval")


def test_metric_helpers():
    from tinygrad_edu.models.ncf import rmse
    from tinygrad_edu.models.seq2seq import EOS, sequence_accuracy

    assert rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(math.sqrt(4 / 3))
    target = np.array([[5, 6, EOS, PAD], [7, EOS, PAD, PAD]])
    right_then_junk = np.array([[5, 6, EOS, 9], [7, EOS, 3, 3]])  # after <eos>: ignored
    assert sequence_accuracy(right_then_junk, target) == 1.0
    missing_eos = np.array([[5, 6, 4, 4], [7, EOS, 3, 3]])  # the <eos> itself counts
    assert sequence_accuracy(missing_eos, target) == 0.5
    assert sequence_accuracy(np.array([[5, 6], [7, EOS]]), target) == 0.5  # too short
