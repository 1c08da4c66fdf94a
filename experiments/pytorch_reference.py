"""PyTorch reference for part3 on a preprocessed cache (not used by the project's code or tests).

Trains the same net the way issue #3's PyTorch numbers were made: input as cached (/255, not standardised),
51529 -> 1024 -> 2048 -> 2048 -> 1024 -> 1 with Linear -> BatchNorm1d -> ReLU, PyTorch's default initialisation,
Adam 1e-3 decayed x0.8 per epoch, batch 64, BCE. Test accuracy is printed for every epoch only so that "the best
epoch on test" can be compared with "the epoch chosen on validation" (the line at the end); never choose on test.

    /usr/bin/python3 train/pytorch_reference.py --data cache-dvc --val-split validation --seed 1

Needs numpy and torch (Debian: python3-torch, with libopenblas0-pthread for speed). Reads the shards with
numpy.fromfile, as the preprocess README describes.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn


def load(cache, split):
    with open(f"{cache}/{split}/manifest.json") as f:
        manifest = json.load(f)
    values = np.concatenate([np.fromfile(f"{cache}/{split}/{s['file']}", "<f4") for s in manifest["shards"]])
    labels = np.fromfile(f"{cache}/{split}/labels.u8", np.uint8).astype(np.float32)
    return torch.from_numpy(values.reshape(len(labels), -1)), torch.from_numpy(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="cache folder (train/, test/ and the validation split)")
    parser.add_argument("--val-split", default="validation", help="split to choose the epoch on")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load(args.data, "train")
    val_x, val_y = load(args.data, args.val_split)
    test_x, test_y = load(args.data, "test")

    layers, width = [], train_x.shape[1]
    for hidden in [1024, 2048, 2048, 1024]:
        layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
        width = hidden
    net = nn.Sequential(*layers, nn.Linear(width, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.8)
    loss_fn = nn.BCEWithLogitsLoss()

    def evaluate(x, y):
        net.eval()
        correct, loss = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(x), 256):
                logits = net(x[i:i + 256]).squeeze(1)
                correct += ((logits > 0).float() == y[i:i + 256]).sum().item()
                loss += loss_fn(logits, y[i:i + 256]).item() * len(logits)
        net.train()
        return correct / len(x), loss / len(x)

    history = []
    for epoch in range(1, args.epochs + 1):
        started, order, total = time.time(), torch.randperm(len(train_x)), 0.0
        for i in range(0, len(train_x), 64):
            batch = order[i:i + 64]
            optimizer.zero_grad()
            loss = loss_fn(net(train_x[batch]).squeeze(1), train_y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        schedule.step()
        (val_acc, val_loss), (test_acc, _) = evaluate(val_x, val_y), evaluate(test_x, test_y)
        history.append((epoch, val_loss, val_acc, test_acc))
        print(f"epoch {epoch}: loss {total / len(train_x):.4f}, val loss {val_loss:.4f} acc {val_acc:.1%}, "
              f"test acc {test_acc:.1%}, {time.time() - started:.0f} s", flush=True)
    chosen = min(history, key=lambda h: h[1])
    best = max(history, key=lambda h: h[3])
    print(f"epoch chosen on validation loss: {chosen[0]}, test acc {chosen[3]:.1%} "
          f"(best epoch on test: {best[0]}, {best[3]:.1%})")


if __name__ == "__main__":
    main()
