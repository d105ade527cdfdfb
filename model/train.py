#!/usr/bin/python3
"""Train the Fashion-MNIST classifier and write every artefact in model/.

One command reproduces the committed files (up to createdAt / trainingSeconds):

    /usr/bin/python3 model/train.py --epochs 4 --out model

Requires Debian packages: python3-torch python3-pil python3-numpy python3-onnx dataset-fashion-mnist.

Writes into --out:
    model.onnx                  eval-mode network + softmax, input "input" [N,1,28,28] float32 in [0,1],
                                output "probabilities" [N,10]
    card.json                   machine-readable model card (parsed by the inference core)
    eval/images-idx3-ubyte.gz   1,000 test images (first 100 of each class), IDX format
    eval/labels-idx1-ubyte.gz
    samples/*.png               one 28x28 test image per class, correctly classified with p >= 0.9
    samples/sneaker-photo.jpg   a larger, coloured, non-square rendering of the sneaker sample
    samples/labels.json
    README.md

--untrained exports the same files from the randomly initialised network (version 0.0.0-untrained)
so that consumers can code against the real file layout before training has finished.
"""
import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageOps

DATA_DIR = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SAMPLE_NAMES = ["t-shirt-top", "trouser", "pullover", "dress", "coat",
                "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
ARCHITECTURE = ("Conv2d(1->50,3x3,same)+ReLU, Conv2d(50->50,3x3,same)+ReLU, MaxPool2, Dropout(0.25), "
                "Conv2d(50->100,3x3,same)+ReLU, Conv2d(100->100,3x3,same)+ReLU, MaxPool2, Dropout(0.25), "
                "Flatten(4900), Linear(4900->512)+ReLU, Dropout(0.5), Linear(512->10), Softmax (export only)")
EVAL_PER_CLASS = 100
SAMPLE_MIN_CONFIDENCE = 0.9


# --------------------------------------------------------------------------- data

def read_idx(path):
    """Read a (gzip'd) IDX file into a numpy array (uint8)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dtype_code = (magic >> 8) & 0xFF
    if dtype_code != 0x08:
        raise ValueError(f"{path}: unsupported IDX dtype 0x{dtype_code:02x}")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def write_idx_gz(path, arr):
    """Write a uint8 array as gzip'd IDX (magic 2051 for 3-D images, 2049 for 1-D labels).
    gzip header has mtime 0 and no file name, so the bytes are reproducible."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write(header + arr.tobytes())


def load_split(kind):
    images = read_idx(os.path.join(DATA_DIR, f"{kind}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{kind}-labels-idx1-ubyte.gz"))
    assert images.shape[0] == labels.shape[0] and images.shape[1:] == (28, 28)
    return images, labels


def to_input(images_u8):
    """uint8 N x 28 x 28 -> float32 N x 1 x 28 x 28 in [0, 1] (pixel / 255, no normalisation)."""
    return torch.from_numpy(np.asarray(images_u8, dtype=np.float32) / 255.0).unsqueeze(1)


# --------------------------------------------------------------------------- network

class SeedCNN(nn.Module):
    """The 2018 'DeepLearningFrameworks' Keras CNN, in PyTorch. Returns logits."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 50, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(50, 50, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Conv2d(50, 100, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(100, 100, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Dropout(0.25),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(100 * 7 * 7, 512), nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(512, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class WithSoftmax(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return F.softmax(self.net(x), dim=1)


# --------------------------------------------------------------------------- training

def augment(x, gen, flip, max_shift):
    """Optional random horizontal flip (p=0.5) and random translation by up to max_shift px (zero fill)."""
    n = x.shape[0]
    if flip:
        f = torch.rand(n, generator=gen) < 0.5
        x = torch.where(f[:, None, None, None], x.flip(3), x)
    if max_shift > 0:
        p = max_shift
        padded = F.pad(x, (p, p, p, p))
        shifts = torch.randint(0, 2 * p + 1, (n, 2), generator=gen).tolist()
        x = torch.stack([padded[i, :, dy:dy + 28, dx:dx + 28] for i, (dy, dx) in enumerate(shifts)])
    return x


@torch.no_grad()
def predict_proba(net, x, batch=1000):
    net.eval()
    out = []
    for i in range(0, x.shape[0], batch):
        out.append(F.softmax(net(x[i:i + batch]), dim=1))
    return torch.cat(out)


def train(net, x_train, y_train, x_test, y_test, args):
    gen = torch.Generator().manual_seed(args.seed)
    n = x_train.shape[0]
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.25, anneal_strategy="cos", div_factor=10.0, final_div_factor=100.0)
    t0 = time.time()
    for epoch in range(1, args.epochs + 1):
        net.train()
        perm = torch.randperm(n, generator=gen)
        total_loss, correct, seen = 0.0, 0, 0
        te = time.time()
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size:(step + 1) * args.batch_size]
            xb = augment(x_train[idx], gen, args.flip, args.max_shift) if (args.flip or args.max_shift) else x_train[idx]
            yb = y_train[idx]
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(idx)
            if (step + 1) % 100 == 0:
                print(f"  epoch {epoch} step {step + 1}/{steps_per_epoch} loss {total_loss / seen:.4f} "
                      f"lr {sched.get_last_lr()[0]:.2e} {time.time() - te:.0f}s", flush=True)
        test_acc = (predict_proba(net, x_test).argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch}/{args.epochs}: train loss {total_loss / seen:.4f} train acc {correct / seen:.4f} "
              f"test acc {test_acc:.4f} ({time.time() - te:.0f}s, total {time.time() - t0:.0f}s)", flush=True)
    return time.time() - t0


# --------------------------------------------------------------------------- artefacts

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_onnx(net, path, opset):
    import onnx
    net.eval()
    wrapped = WithSoftmax(net).eval()
    dummy = torch.zeros(1, 1, 28, 28, dtype=torch.float32)
    torch.onnx.export(
        wrapped, dummy, path, opset_version=opset, do_constant_folding=True,
        input_names=["input"], output_names=["probabilities"],
        dynamic_axes={"input": {0: "N"}, "probabilities": {0: "N"}})
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    inp, out = model.graph.input[0], model.graph.output[0]
    assert inp.name == "input" and out.name == "probabilities"
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    assert dims(inp) == ["N", 1, 28, 28], dims(inp)
    assert dims(out) == ["N", 10], dims(out)
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    print(f"ONNX ok: opset {model.opset_import[0].version}, input {dims(inp)}, output {dims(out)}, "
          f"{os.path.getsize(path)} bytes", flush=True)


def pillow_preprocess(img):
    """The reference preprocessing (card.json preprocessing.reference)."""
    g = ImageOps.fit(img.convert("L"), (28, 28), Image.LANCZOS)
    return np.asarray(g, dtype=np.float32) / 255.0


SNEAKER_PHOTO_VARIANTS = [
    # (object size in px, background base RGB, tint RGB); the first one the model classifies as Sneaker
    # with p >= 0.5 after the reference preprocessing is used
    (150, (4, 6, 16), (255, 190, 120)),
    (160, (4, 6, 16), (255, 190, 120)),
    (160, (2, 2, 6), (255, 225, 170)),
    (160, (0, 0, 0), (255, 255, 255)),
]


def make_sneaker_photo(sneaker_u8, size, base, tint, w=224, h=160):
    """w x h RGB JPEG: the 28x28 sneaker upscaled to size x size, tinted, centred on a dark bluish gradient
    with noise (a margin on every side that the image is not as tall as the object). Deterministic (fixed
    RNG seed; Pillow's JPEG encoder is deterministic)."""
    rng = np.random.default_rng(7)
    big = np.asarray(Image.fromarray(sneaker_u8, "L").resize((size, size), Image.BICUBIC),
                     dtype=np.float32) / 255.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.array(base, np.float32)
    bg = base + np.stack([6 * xx / w, 4 * yy / h, 10 * (1 - xx / w)], axis=-1) * (base.max() > 0)
    bg += rng.normal(0, 1.5, bg.shape) * (base.max() > 0)
    canvas = bg.copy()
    top, left = (h - size) // 2, (w - size) // 2
    region = canvas[max(top, 0):max(top, 0) + min(size, h), left:left + size]
    crop = big[max(-top, 0):max(-top, 0) + min(size, h)]
    a = crop[..., None]
    canvas[max(top, 0):max(top, 0) + min(size, h), left:left + size] = \
        region * (1 - a) + np.array(tint, np.float32) * a
    img = Image.fromarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, optimize=True)
    return buf.getvalue()


def dumps_compact(obj):
    """json.dumps(indent=2), with arrays of numbers / short strings kept on one line."""
    import re
    text = json.dumps(obj, indent=2)
    compact = re.sub(r'\[\s*((?:-?[\d.]+|"[^"\n]{0,16}")(?:,\s*(?:-?[\d.]+|"[^"\n]{0,16}"))*)\s*\]',
                     lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    assert json.loads(compact) == obj
    return compact


def write_readme(path, card):
    m, t = card["metrics"], card["training"]
    untrained = card["version"].endswith("untrained")
    per_class = "\n".join(f"| {k} | {v:.3f} |" for k, v in m["perClassAccuracy"].items())
    note = ("\n> **Placeholder**: this is the UNTRAINED network (random weights), exported so that the\n"
            "> inference core can be built against the real file layout. Accuracy is chance level.\n"
            if untrained else "")
    text = f"""# model/

The image classifier deployed by this repository: the 2018 seed CNN ("DeepLearningFrameworks" Keras
CNN) re-implemented in PyTorch and trained on Fashion-MNIST, exported to ONNX.
{note}
| file | what |
|---|---|
| `model.onnx` | eval-mode network with a final softmax, ONNX opset {card['onnx']['opset']}. Input `input` float32 `[N,1,28,28]` (pixel/255, bright object on black, no normalisation), output `probabilities` float32 `[N,10]` |
| `card.json` | machine-readable model card: labels, input/output, preprocessing, metrics, sha256 of `model.onnx` (read by the inference core) |
| `eval/images-idx3-ubyte.gz`, `eval/labels-idx1-ubyte.gz` | evaluation set: the first {EVAL_PER_CLASS} test images of each class ({m['evaluationSet']['count']} images, IDX format as in the dataset) |
| `samples/*.png` | one 28x28 grayscale test image per class (classified correctly with p >= {SAMPLE_MIN_CONFIDENCE}); `sneaker-photo.jpg` is a 224x160 coloured rendering of the sneaker; `labels.json` maps file to label |
| `train.py` | writes every file above |
| `make_fixtures.py` | writes the preprocessing fixtures in `inference/test/fixtures/preprocess/` |

## Accuracy

Version `{card['version']}`: **{m['testAccuracy']:.4f}** on the {m['testImages']:,} Fashion-MNIST test images;
{m['evaluationSet']['accuracy']:.3f} on the {m['evaluationSet']['count']:,}-image evaluation set in `eval/`.

| class | test accuracy |
|---|---|
{per_class}

Training: {t['epochs']} epochs over the {t['trainImages']:,} training images; {t['optimizer']}; batch {t['batchSize']};
augmentation: {t['augmentation']}; seed {t['seed']}; {t['framework']}, {t['threads']} threads.
Wall-clock training time {t['trainingSeconds']:.0f} s on a 2-core machine (depends on what else runs there).

## Preprocessing

Exactly as in `card.json` `preprocessing`: Pillow `convert('L')` (ITU-R 601-2 luma, alpha ignored), then
`ImageOps.fit(img, (28, 28), Image.LANCZOS)` (scale to cover, centre crop), then `pixel / 255`. No inversion:
the network expects Fashion-MNIST's polarity (bright object on a black background).

## Reproduce

```sh
sudo apt-get install python3-torch python3-pil python3-numpy python3-onnx dataset-fashion-mnist
{t['command']}
/usr/bin/python3 model/make_fixtures.py      # preprocessing fixtures for the inference core
```

Everything is seeded; only `createdAt` and `trainingSeconds` (and therefore this README) change between runs.
Bitwise-identical weights need the same PyTorch build and thread count (2).

## Licence of the data

Fashion-MNIST, (c) Zalando SE (Zalando Research), MIT licence
(https://github.com/zalandoresearch/fashion-mnist), from the Debian package `dataset-fashion-mnist`.
The evaluation set and sample images are taken from its test split.
"""
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--out", default="model")
    ap.add_argument("--untrained", action="store_true",
                    help="skip training; export the randomly initialised network as version 0.0.0-untrained")
    ap.add_argument("--seed", type=int, default=20180)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    ap.add_argument("--flip", action="store_true", help="augmentation: random horizontal flip")
    ap.add_argument("--max-shift", type=int, default=0, help="augmentation: random translation in px")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--save-weights", metavar="PATH",
                    help="also save the trained weights (+ training time) to PATH right after training")
    ap.add_argument("--load-weights", metavar="PATH",
                    help="skip training: load weights saved by --save-weights (same --epochs) and write the files")
    args = ap.parse_args()

    torch.set_num_threads(2)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    out = args.out
    os.makedirs(os.path.join(out, "eval"), exist_ok=True)
    os.makedirs(os.path.join(out, "samples"), exist_ok=True)

    train_images, train_labels = load_split("train")
    test_images, test_labels = load_split("t10k")
    x_train, y_train = to_input(train_images), torch.from_numpy(train_labels.astype(np.int64))
    x_test, y_test = to_input(test_images), torch.from_numpy(test_labels.astype(np.int64))
    print(f"data: train {tuple(x_train.shape)}, test {tuple(x_test.shape)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)

    net = SeedCNN()
    if args.untrained:
        version, epochs, seconds = "0.0.0-untrained", 0, 0.0
    else:
        version, epochs = args.version, args.epochs
        if args.load_weights:
            ckpt = torch.load(args.load_weights)
            assert ckpt["epochs"] == args.epochs, "checkpoint was trained with a different --epochs"
            net.load_state_dict(ckpt["state_dict"])
            seconds = ckpt["seconds"]
        else:
            seconds = train(net, x_train, y_train, x_test, y_test, args)
            if args.save_weights:
                torch.save({"state_dict": net.state_dict(), "seconds": seconds, "epochs": args.epochs},
                           args.save_weights)
    net.eval()

    # ---- metrics on the full test split
    probs = predict_proba(net, x_test)
    pred = probs.argmax(1)
    test_acc = (pred == y_test).float().mean().item()
    per_class = {LABELS[c]: round((pred[y_test == c] == c).float().mean().item(), 4) for c in range(10)}

    # ---- evaluation set: first EVAL_PER_CLASS test images of each class, in test-split order
    eval_idx = np.sort(np.concatenate(
        [np.flatnonzero(test_labels == c)[:EVAL_PER_CLASS] for c in range(10)]))
    write_idx_gz(os.path.join(out, "eval", "images-idx3-ubyte.gz"), test_images[eval_idx])
    write_idx_gz(os.path.join(out, "eval", "labels-idx1-ubyte.gz"), test_labels[eval_idx])
    # accuracy read back from the files, exactly as a consumer would
    ev_x = to_input(read_idx(os.path.join(out, "eval", "images-idx3-ubyte.gz")))
    ev_y = torch.from_numpy(read_idx(os.path.join(out, "eval", "labels-idx1-ubyte.gz")).astype(np.int64))
    eval_acc = (predict_proba(net, ev_x).argmax(1) == ev_y).float().mean().item()

    # ---- samples: first test image of each class classified correctly with p >= 0.9
    labels_json = {}
    sample_info = {}
    for c in range(10):
        cands = np.flatnonzero(test_labels == c)
        ok = [i for i in cands if pred[i] == c and probs[i, c] >= SAMPLE_MIN_CONFIDENCE]
        if not ok:
            if not args.untrained:
                sys.exit(f"no test image of class {LABELS[c]} classified with p >= {SAMPLE_MIN_CONFIDENCE}")
            ok = [cands[0]]  # placeholder model: cannot be confident
        i = int(ok[0])
        name = SAMPLE_NAMES[c] + ".png"
        Image.fromarray(test_images[i], "L").save(os.path.join(out, "samples", name), optimize=True)
        labels_json[name] = LABELS[c]
        sample_info[name] = {"testIndex": i, "label": LABELS[c], "probability": round(probs[i, c].item(), 4)}
        # the PNG round trip through the reference preprocessing must be lossless
        back = pillow_preprocess(Image.open(os.path.join(out, "samples", name)))
        assert np.array_equal(back, test_images[i].astype(np.float32) / 255.0)

    sneaker_index = sample_info["sneaker.png"]["testIndex"]
    photo_path = os.path.join(out, "samples", "sneaker-photo.jpg")
    for variant in SNEAKER_PHOTO_VARIANTS:
        with open(photo_path, "wb") as f:
            f.write(make_sneaker_photo(test_images[sneaker_index], *variant))
        photo = Image.open(photo_path)
        photo_x = torch.from_numpy(pillow_preprocess(photo))[None, None]
        photo_p = predict_proba(net, photo_x)[0]
        photo_pred = int(photo_p.argmax())
        print(f"sneaker-photo.jpg {photo.size} {photo.mode} variant {variant}: predicted {LABELS[photo_pred]} "
              f"p={photo_p.max():.4f} (p[Sneaker]={photo_p[7]:.4f})", flush=True)
        if args.untrained or (photo_pred == 7 and photo_p[7] >= 0.5):
            break
    else:
        sys.exit("no sneaker-photo.jpg variant is classified as Sneaker after the reference preprocessing")
    labels_json["sneaker-photo.jpg"] = "Sneaker"
    sample_info["sneaker-photo.jpg"] = {"testIndex": sneaker_index, "label": "Sneaker",
                                        "probability": round(photo_p[7].item(), 4),
                                        "objectSize": variant[0], "background": list(variant[1]),
                                        "tint": list(variant[2]),
                                        "width": photo.size[0], "height": photo.size[1]}
    with open(os.path.join(out, "samples", "labels.json"), "w") as f:
        json.dump(labels_json, f, indent=2)
        f.write("\n")

    # ---- ONNX
    onnx_path = os.path.join(out, "model.onnx")
    export_onnx(net, onnx_path, args.opset)

    cmd = f"/usr/bin/python3 model/train.py --epochs {epochs} --out model"
    if args.untrained:
        cmd = "/usr/bin/python3 model/train.py --untrained --out model"
    card = {
        "schemaVersion": 1,
        "name": "fashion-mnist-cnn",
        "version": version,
        "description": ("Convolutional network (the 2018 DeepLearningFrameworks seed CNN) that classifies a "
                        "28x28 grayscale image into one of the 10 Fashion-MNIST clothing categories."),
        "file": "model.onnx",
        "sha256": sha256_file(onnx_path),
        "labels": LABELS,
        "input": {"name": "input", "dtype": "float32", "shape": [-1, 1, 28, 28], "layout": "NCHW"},
        "output": {"name": "probabilities", "dtype": "float32", "shape": [-1, 10], "activation": "softmax"},
        "preprocessing": {
            "colorMode": "grayscale",
            "grayscale": ("ITU-R 601-2 luma (Pillow convert('L')): "
                          "L = R*299/1000 + G*587/1000 + B*114/1000, alpha ignored"),
            "resize": {"width": 28, "height": 28, "fit": "cover", "position": "centre", "filter": "lanczos"},
            "scale": 1 / 255,
            "invert": False,
            "reference": "PIL.ImageOps.fit(img.convert('L'), (28, 28), Image.LANCZOS); np.asarray(...)/255",
        },
        "metrics": {
            "testAccuracy": round(test_acc, 4),
            "testImages": int(x_test.shape[0]),
            "perClassAccuracy": per_class,
            "evaluationSet": {
                "images": "eval/images-idx3-ubyte.gz",
                "labels": "eval/labels-idx1-ubyte.gz",
                "count": int(len(eval_idx)),
                "accuracy": round(eval_acc, 4),
                "selection": f"first {EVAL_PER_CLASS} images of each class in the Fashion-MNIST test split, "
                             "in test-split order",
            },
        },
        "training": {
            "data": ("Fashion-MNIST (Zalando Research, MIT licence) from Debian package dataset-fashion-mnist, "
                     "/usr/share/datasets/fashion-mnist"),
            "framework": f"PyTorch 1.13.1 (Debian python3-torch; torch.__version__ {torch.__version__})",
            "command": cmd,
            "epochs": epochs,
            "optimizer": (f"Adam, one-cycle LR schedule (cosine, peak {args.lr:g}, warm-up 25%, "
                          f"start peak/10, end peak/1000), cross-entropy loss"),
            "augmentation": ", ".join(
                (["random horizontal flip (p=0.5)"] if args.flip else []) +
                ([f"random translation up to {args.max_shift} px"] if args.max_shift else [])) or "none",
            "batchSize": args.batch_size,
            "seed": args.seed,
            "threads": torch.get_num_threads(),
            "trainingSeconds": round(seconds, 1),
            "trainImages": int(x_train.shape[0]),
            "architecture": ARCHITECTURE,
        },
        "onnx": {"opset": args.opset, "exporter": f"torch.onnx {torch.__version__}",
                 "dynamicAxes": {"input": [0], "probabilities": [0]}},
        "samples": sample_info,
        "createdAt": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
                     .replace("+00:00", "Z"),
    }
    with open(os.path.join(out, "card.json"), "w") as f:
        f.write(dumps_compact(card) + "\n")
    write_readme(os.path.join(out, "README.md"), card)
    print(f"test accuracy {test_acc:.4f}; eval set {eval_acc:.4f}; per class {per_class}", flush=True)
    print(f"wrote {out}/ (version {version})", flush=True)


if __name__ == "__main__":
    main()
