"""``tinygrad-edu train MODEL`` and ``tinygrad-edu models``.

    tinygrad-edu train lenet --dataset mnist --epochs 1 [--device cpu|cuda]
                       [--kernel auto|reference|numba|cuda] [--out DIR]
    tinygrad-edu train text-lstm --dataset rt-sentiment [--max-len 48] [--min-freq 2]

Loads the data set offline, trains with a progress bar, prints the final test metrics and writes
``DIR/model.ckpt`` (safe format, no pickle), ``DIR/history.json``, ``DIR/history.png`` and
``DIR/metrics.json`` (plus ``DIR/vocab.json`` for text models).

Images become normalized float32 NCHW batches. Texts are tokenized (``data.text.tokenize``), a
``Vocabulary`` is built on the train split only (words seen ``--min-freq`` times; the others
become <unk>), and every text is cut or right-padded with <pad> = 0 to ``--max-len`` tokens:
int64 batches (B, max_len).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from ..backend import KERNEL_CHOICES

SCHEDULES = ("none", "warmup-linear", "cosine")


def make_schedule(name: str, optimizer, total_steps: int, warmup: int = 100):
    """A per-step LR scheduler: "warmup-linear" ramps up over ``warmup`` steps then decays
    linearly to 0 at ``total_steps``; "cosine" anneals to 0; "none" keeps the LR."""
    from .. import optim

    if name == "none":
        return None
    if name == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    warmup = min(warmup, max(total_steps // 10, 1))

    def factor(step: int) -> float:
        return min(1.0, (step + 1) / warmup) * max(0.0, 1.0 - step / total_steps)

    return optim.lr_scheduler.LambdaLR(optimizer, factor)


def add_parser(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a seed model on a real data set",
                                  description=__doc__.split("\n\n")[1],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("model", help="model name (see `tinygrad-edu models`)")
    train.add_argument("--dataset", default=None, help="mnist | fashion-mnist | digits | "
                       "rt-sentiment | cifar10 (default: the model's first)")
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default: the model's, else 1e-3)")
    train.add_argument("--schedule", choices=SCHEDULES, default=None,
                       help="per-step LR schedule (default: the model's, else none); "
                            "warmup-linear: warm-up over min(100, a tenth of all) steps, "
                            "then linear decay to 0")
    train.add_argument("--threads", type=int, default=1,
                       help="CPU threads for BLAS and the Numba kernels (default 1: on small "
                            "CPUs the two thread pools spin against each other)")
    train.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), default="adam")
    train.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    train.add_argument("--kernel", choices=KERNEL_CHOICES, default="auto")
    train.add_argument("--out", default=None, help="output folder (default runs/MODEL-DATASET)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--limit", type=int, default=None,
                       help="train on the first N examples only (quick checks)")
    train.add_argument("--test-limit", type=int, default=None,
                       help="evaluate on the first N test examples only (quick checks)")
    train.add_argument("--data-dir", default=None, help="folder searched first for data files")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.add_argument("--clip-grad-norm", type=float, default=None,
                       help="clip the gradient norm to this value (recurrent models)")
    text = train.add_argument_group("text models")
    text.add_argument("--max-len", type=int, default=48, help="tokens per text (cut or padded)")
    text.add_argument("--min-freq", type=int, default=2,
                      help="keep words seen at least this often in the train split")
    text.add_argument("--max-vocab", type=int, default=20000, help="largest vocabulary size")
    train.set_defaults(func=run_train)

    models = subparsers.add_parser("models", help="list the models `train` knows")
    models.set_defaults(func=run_models)


def run_models(args) -> int:
    from ..models import list_models

    print(f"{'model':<15} {'data sets (or training script)':<40} description")
    for spec in list_models():
        where = ", ".join(spec.datasets) if spec.datasets else spec.example or "-"
        print(f"{spec.name:<15} {where:<40} {spec.description}")
    return 0


def prepare_images(x: np.ndarray, info) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) -> normalized float32 NCHW.

    One float copy, then every step in place: each new array of a 60,000-image set is 188 MB
    of fresh pages (the four-array version took 1.4 s for MNIST, a quarter of the main job)."""
    x = x.astype(np.float32)
    x /= np.float32(info.max_value)
    if x.ndim == 3:
        x = x[:, None, :, :]  # (N, 1, H, W)
    elif x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W), a view
    if info.mean is not None:
        x -= np.asarray(info.mean, dtype=np.float32).reshape(1, -1, 1, 1)
        x /= np.asarray(info.std, dtype=np.float32).reshape(1, -1, 1, 1)
    return np.ascontiguousarray(x)


def load_split(dataset: str, split: str, data_dir=None, limit=None):
    from ..data import dataset_info, get_dataset

    info = dataset_info(dataset)
    x, y = get_dataset(info.name, split, data_dir=data_dir)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if info.kind == "image":
        x = prepare_images(x, info)
    return info, x, np.asarray(y, dtype=np.int64)


def prepare_texts(train_texts, test_texts, max_len: int, min_freq: int = 2,
                  max_vocab: int | None = 20000):
    """Tokenize, build the vocabulary on the train texts only (no peeking at the test set),
    encode both splits to int64 ids (N, max_len), right-padded with <pad> = 0.

    Returns (vocab, train_ids, test_ids)."""
    from ..data.text import Vocabulary

    vocab = Vocabulary.build(train_texts, min_freq=min_freq, max_size=max_vocab)
    train_ids, _ = vocab.encode_batch(train_texts, max_len=max_len)  # (N, max_len) int64
    test_ids, _ = vocab.encode_batch(test_texts, max_len=max_len)  # (N, max_len) int64
    return vocab, train_ids, test_ids


def data_kwargs(spec, info, x_train: np.ndarray, vocab=None) -> dict:
    """The builder arguments ``spec.data_args`` asks for, read off the data."""
    available = {"num_classes": info.num_classes, "out_features": info.num_classes}
    if info.kind == "image":
        available["in_channels"] = x_train.shape[1]  # (N, C, H, W)
        available["in_features"] = int(np.prod(x_train.shape[1:]))
        available["image_size"] = x_train.shape[-1]
    if vocab is not None:
        available["vocab_size"] = len(vocab)
    missing = [name for name in spec.data_args if name not in available]
    if missing:
        raise SystemExit(f"train: model {spec.name!r} needs {missing} from the data, which the "
                         f"{info.kind} data set {info.name!r} cannot provide")
    return {name: available[name] for name in spec.data_args}


def _check_train_args(args):
    """(the model's spec, the data set's name), once every argument value is known to be
    usable: before the output folder is made or any data is read. Raises ``UsageError``
    (exit status 2)."""
    from .._usage import UsageError, check_at_least_one, check_device
    from ..data import dataset_info
    from ..models import get_spec

    try:
        spec = get_spec(args.model)
    except ValueError as error:
        raise UsageError(str(error)) from None
    dataset = None  # a model without data sets: run_train points to its script
    if spec.datasets:
        dataset = args.dataset or spec.datasets[0]
        try:
            dataset = dataset_info(dataset).name  # aliases: fashion -> fashion-mnist
        except KeyError:
            pass  # not a data set at all: the message below lists the model's
        if dataset not in spec.datasets:
            raise UsageError(f"--dataset: model {spec.name!r} trains on "
                             f"{', '.join(spec.datasets)}, not {args.dataset!r}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    positive = {"--epochs": args.epochs, "--batch-size": args.batch_size,
                "--threads": args.threads, "--limit": args.limit,
                "--test-limit": args.test_limit, "--max-len": args.max_len,
                "--min-freq": args.min_freq, "--max-vocab": args.max_vocab}
    for name, value in positive.items():
        check_at_least_one(name, value)
    for name, value in (("--lr", args.lr), ("--clip-grad-norm", args.clip_grad_norm)):
        if value is not None and not value > 0:
            raise UsageError(f"{name} must be positive, got {value}")
    check_device(args.device)
    if args.kernel == "cuda" and not args.device.startswith("cuda"):
        raise UsageError("--kernel cuda runs CUDA kernels on GPU tensors: add --device cuda, "
                         "or pick --kernel auto, numba or reference for the CPU")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise UsageError(f"--data-dir {args.data_dir!r} is not a folder")
    return spec, dataset


def run_train(args) -> int:
    import tinygrad_edu as tg
    from tinygrad_edu import nn, optim
    from tinygrad_edu.data import DataLoader, TensorDataset
    from tinygrad_edu.metrics import accuracy, f1_score
    from tinygrad_edu.models import get_model

    from .._usage import UsageError
    from ..data import DatasetNotFoundError
    from .trainer import Trainer

    spec, dataset = _check_train_args(args)
    if not spec.datasets:
        raise SystemExit(
            f"train: model {spec.name!r} ({spec.description}) takes {spec.input!r} inputs, not a "
            f"labeled data set, so this command cannot train it; run: python {spec.example}"
        )
    lr = args.lr if args.lr is not None else spec.train_defaults.get("lr", 1e-3)
    schedule = args.schedule or spec.train_defaults.get("schedule", "none")
    tg.set_num_threads(args.threads)
    tg.manual_seed(args.seed)

    try:  # before the output folder is made: a missing data set leaves nothing behind
        info, x_train, y_train = load_split(dataset, "train", args.data_dir, args.limit)
        _, x_test, y_test = load_split(dataset, "test", args.data_dir, args.test_limit)
    except DatasetNotFoundError as error:
        raise UsageError(str(error)) from None
    out_dir = args.out or os.path.join("runs", f"{spec.name}-{dataset}")
    os.makedirs(out_dir, exist_ok=True)
    vocab = None
    if info.kind == "text":
        vocab, x_train, x_test = prepare_texts(x_train, x_test, args.max_len, args.min_freq,
                                               args.max_vocab)
        with open(os.path.join(out_dir, "vocab.json"), "w") as f:
            json.dump({**vocab.to_dict(), "max_len": args.max_len}, f)  # tokenizer included
        print(f"vocabulary: {len(vocab):,} tokens (min_freq {args.min_freq}) from the train "
              f"split; texts cut / padded to {args.max_len} tokens")
    model = get_model(spec.name, **data_kwargs(spec, info, x_train, vocab)).to(args.device)
    print(f"model {spec.name}: {model.num_parameters():,} parameters; data {dataset}: "
          f"{len(x_train):,} train / {len(x_test):,} test; device {args.device}, "
          f"kernel {args.kernel}")

    optimizers = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD}
    optimizer = optimizers[args.optimizer](model.parameters(), lr=lr)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                              shuffle=True, seed=args.seed)
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=1000)
    scheduler = make_schedule(schedule, optimizer, args.epochs * len(train_loader))
    print(f"optimizer {args.optimizer}, lr {lr:g}, schedule {schedule}, batch size "
          f"{args.batch_size}, {args.threads} thread(s)")
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device=args.device,
                      scheduler=scheduler, scheduler_interval="step",
                      clip_grad_norm=args.clip_grad_norm,
                      checkpoint_path=os.path.join(out_dir, "model.ckpt"), monitor="val_acc",
                      progress=not args.no_progress)
    start = time.perf_counter()
    with tg.use_kernel(args.kernel):
        history = trainer.fit(train_loader, epochs=args.epochs, val_loader=test_loader)
        predictions = predict(model, x_test, args.device)
    seconds = time.perf_counter() - start

    metrics = {
        "model": spec.name, "dataset": dataset, "epochs": args.epochs,
        "test_accuracy": float(accuracy(y_test, predictions)),
        "test_macro_f1": float(f1_score(y_test, predictions, average="macro")),
        "train_seconds": seconds, "device": args.device, "kernel": args.kernel,
        "lr": lr, "schedule": schedule, "batch_size": args.batch_size, "threads": args.threads,
    }
    history.to_json(os.path.join(out_dir, "history.json"))
    history.plot(os.path.join(out_dir, "history.png"))
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(f"test accuracy {metrics['test_accuracy']:.4f}, macro F1 "
          f"{metrics['test_macro_f1']:.4f}, {seconds:.1f} s; wrote {out_dir}/model.ckpt, "
          "history.json, history.png, metrics.json")
    return 0


def predict(model, x: np.ndarray, device: str, batch_size: int = 1000) -> np.ndarray:
    """Class predictions (argmax of the logits) in eval mode, without a graph."""
    import tinygrad_edu as tg

    model.eval()
    out = []
    with tg.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(tg.tensor(x[start:start + batch_size], device=device))
            out.append(np.asarray(logits).argmax(axis=1))
    return np.concatenate(out)
