#!/usr/bin/python3
"""Train the second bundled model: the 2018 tutorial's CNN on 32x32 RGB with NHWC input, as a Keras
export gives it, written as a Hugging Face-style folder (model.onnx, config.json,
preprocessor_config.json) that the service reads with no card of ours.

    /usr/bin/python3 model/train_rgb.py [--train 12000] [--epochs 2] [--out model/fashion-rgb-keras]

Data: Fashion-MNIST (Debian dataset-fashion-mnist), colourised: each 28x28 item becomes a 32x32 RGB
image, the garment in one random colour over a background of another (alpha = the grey level), with a
2-pixel border of background. Kept short on purpose (a subset, 2 epochs) for a shared 2-core machine.
The graph ends in Softmax and takes [N, 32, 32, 3] floats, (v / 255 - 0.5) / 0.5, as a tf2onnx export
of the Keras model would.
"""
import argparse
import gzip
import hashlib
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

DATA = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    if magic == 2051:
        n, h, w = struct.unpack(">III", data[4:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, h, w)
    n, = struct.unpack(">I", data[4:8])
    return np.frombuffer(data, np.uint8, offset=8)


def colourise(gray, rng):
    """28x28 grey -> 32x32 RGB uint8: garment colour over background colour, alpha = grey level."""
    n = len(gray)
    bg = rng.integers(0, 256, (n, 1, 1, 3)).astype(np.float32)
    fg = rng.integers(0, 256, (n, 1, 1, 3)).astype(np.float32)
    # Keep the garment visible: push the foreground away from the background where they are close.
    close = np.abs(fg - bg).sum(axis=-1, keepdims=True) < 150
    fg = np.where(close, 255 - bg, fg)
    a = np.pad(gray, ((0, 0), (2, 2), (2, 2))).astype(np.float32)[..., None] / 255
    return np.clip(bg * (1 - a) + fg * a + 0.5, 0, 255).astype(np.uint8)


def scale(x):
    """The preprocessor's rescale + normalize: v / 255, then (x - 0.5) / 0.5, so inputs are centred."""
    return torch.from_numpy((x.astype(np.float32) / 255 - 0.5) / 0.5)


class Net(nn.Module):
    """The 2018 DeepLearningFrameworks CNN, on 3 channels, taking NHWC like a Keras model."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 50, 3, padding=1), nn.ReLU(), nn.Conv2d(50, 50, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Conv2d(50, 100, 3, padding=1), nn.ReLU(), nn.Conv2d(100, 100, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(100 * 8 * 8, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10))

    def forward(self, x):
        return self.classifier(self.features(x.permute(0, 3, 1, 2)))


class Exported(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def store_float16(path):
    """Large float32 initializers become float16 ones plus a Cast back to float32 (exact: the values are
    already float16-rounded), halving the file; onnxruntime folds the casts at load."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    model = onnx.load(path)
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT:
            continue
        value = numpy_helper.to_array(init)
        if value.size < 1024:
            continue
        half = numpy_helper.from_array(value.astype(np.float16), init.name + "_fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT))
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=12000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--out", default="model/fashion-rgb-keras")
    args = parser.parse_args()
    torch.manual_seed(2018)
    torch.set_num_threads(2)
    rng = np.random.default_rng(2018)
    xtr = colourise(idx("train-images-idx3-ubyte.gz")[: args.train], rng)
    ytr = idx("train-labels-idx1-ubyte.gz")[: args.train].astype(np.int64)
    xte = colourise(idx("t10k-images-idx3-ubyte.gz")[: args.test], rng)
    yte = idx("t10k-labels-idx1-ubyte.gz")[: args.test].astype(np.int64)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), args.lr)
    loss_fn = nn.CrossEntropyLoss()
    started = time.time()
    for epoch in range(args.epochs):
        net.train()
        order = rng.permutation(len(xtr))
        running = 0.0
        for step, i in enumerate(range(0, len(order), 64)):
            b = order[i:i + 64]
            loss = loss_fn(net(scale(xtr[b])), torch.from_numpy(ytr[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
            if (step + 1) % 25 == 0:
                print(f"epoch {epoch + 1} step {step + 1}: mean loss {running / 25:.3f} ({time.time() - started:.0f} s)", flush=True)
                running = 0.0
    seconds = time.time() - started
    # The weights are stored as float16 in the ONNX file (the dense layer alone is 13 MB in float32);
    # round them here first, so the accuracy and the sample predictions are those of the file.
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.half().float())
    net.eval()
    with torch.no_grad():
        pred = net(scale(xte)).argmax(1).numpy()
    accuracy = float((pred == yte).mean())
    print(f"test accuracy {accuracy:.4f} on {len(yte)} colourised test images")

    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    path = os.path.join(args.out, "model.onnx")
    torch.onnx.export(Exported(net), torch.zeros(1, 32, 32, 3), path, input_names=["input_1"], output_names=["dense_1"],
                      dynamic_axes={"input_1": {0: "N"}, "dense_1": {0: "N"}}, opset_version=13)
    store_float16(path)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({"architectures": ["Keras2018TutorialCNN"], "id2label": {str(i): l for i, l in enumerate(LABELS)},
                   "label2id": {l: i for i, l in enumerate(LABELS)}, "problem_type": "single_label_classification"}, f, indent=2)
    with open(os.path.join(args.out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 32, "width": 32}, "resample": 2,
                   "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                   "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}, f, indent=2)
    samples = {}
    for cls in range(10):
        i = int(np.nonzero(yte == cls)[0][0])
        name = LABELS[cls].lower().replace("/", "-").replace(" ", "-") + ".png"
        Image.fromarray(xte[i], "RGB").save(os.path.join(args.out, "samples", name))
        samples[name] = {"label": LABELS[cls], "testIndex": i, "predicted": LABELS[int(pred[i])]}
    with open(os.path.join(args.out, "samples", "labels.json"), "w") as f:
        json.dump({k: v["label"] for k, v in samples.items()}, f, indent=2)
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"command": f"/usr/bin/python3 model/train_rgb.py --train {args.train} --epochs {args.epochs} --lr {args.lr}",
                   "data": "Fashion-MNIST (Debian dataset-fashion-mnist), colourised 32x32 RGB (see model/train_rgb.py)",
                   "trainImages": args.train, "epochs": args.epochs, "optimizer": f"Adam {args.lr}, batch 64", "seed": 2018, "threads": 2,
                   "trainingSeconds": round(seconds), "testImages": len(yte), "testAccuracy": accuracy,
                   "framework": f"PyTorch {torch.__version__}", "sha256": sha, "samples": samples}, f, indent=2)


if __name__ == "__main__":
    main()
