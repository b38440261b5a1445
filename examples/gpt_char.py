"""A tiny GPT trained on characters of the Rotten Tomatoes review snippets (nanoGPT's
shakespeare_char recipe, with the corpus this project has offline).

    python examples/gpt_char.py [--steps 2000] [--n-layer 4] [--n-embd 128] [--block-size 64]

The snippets of the train split, one per line, are the training text; those of the test split
are the validation text. Prints the validation loss (nats per character; a model that knows
nothing scores ln(vocab) = ln 117 ~ 4.8) and a few generated "reviews".
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import load_rt_sentiment
from tinygrad_edu.models import GPT
from tinygrad_edu.models.gpt import CharTokenizer, get_batch, lm_loss


def estimate_loss(model, data: np.ndarray, block_size: int, batches: int = 20) -> float:
    model.eval()
    rng = np.random.default_rng(123)
    losses = []
    with tg.no_grad():
        for _ in range(batches):
            x, y = get_batch(data, block_size, 32, rng)
            losses.append(lm_loss(model(tg.tensor(x)), tg.tensor(y)).item())
    model.train()
    return float(np.mean(losses))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tg.manual_seed(args.seed)
    train_text = "\n".join(load_rt_sentiment("train")[0])
    val_text = "\n".join(load_rt_sentiment("test")[0])
    tokenizer = CharTokenizer(train_text + val_text)
    train_data = np.array(tokenizer.encode(train_text), dtype=np.int64)
    val_data = np.array(tokenizer.encode(val_text), dtype=np.int64)
    model = GPT(vocab_size=tokenizer.vocab_size, block_size=args.block_size,
                n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd)
    print(f"{len(train_data):,} train / {len(val_data):,} val characters, vocabulary "
          f"{tokenizer.vocab_size}; GPT with {model.num_parameters():,} parameters", flush=True)

    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = get_batch(train_data, args.block_size, args.batch_size, rng)
        loss = lm_loss(model(tg.tensor(x)), tg.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if step % 250 == 0 or step == args.steps:
            val = estimate_loss(model, val_data, args.block_size)
            print(f"step {step}: train loss {loss.item():.3f}, val loss {val:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    val = estimate_loss(model, val_data, args.block_size, batches=50)
    tg.manual_seed(args.seed)
    for prompt in ("The film ", "A ", "It's "):
        ids = model.generate(tg.tensor([tokenizer.encode(prompt)]), max_new_tokens=80,
                             temperature=0.8, top_k=20)
        print("  " + repr(tokenizer.decode(ids.numpy()[0]).split("\n")[0]))
    print(f"GPT char-level: val loss {val:.3f} nats/char after {args.steps} steps, "
          f"{seconds:.0f} s")
    return {"val_loss": val, "seconds": seconds}


if __name__ == "__main__":
    main()
