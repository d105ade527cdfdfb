#!/usr/bin/python3
"""Write the parity fixtures for model description v2 (deterministic; Debian's Pillow 9.4, torchvision 0.14, numpy).

    /usr/bin/python3 model/make_parity_fixtures.py [--out inference/test/fixtures/parity]

Two kinds of case, listed in manifest.json:

- "pixels": the 8-bit image the model's window holds after colour conversion and geometry, saved as
  PNG, for every interpolation x resize mode. The reference is the library the mode comes from:
    fit             ImageOps.fit(im, size, method)
    stretch         im.resize(size, method, reducing_gap=None) [+ centre crop, Hugging Face's floor]
    shortest-edge   floor: Hugging Face's rule (long side int(s * long / short), top = (h - crop) // 2)
                    round: torchvision's Resize(s) + CenterCrop (top = int(round((h - crop) / 2)))
    letterbox       ImageOps.pad(im, size, method, color=fill)
  The core must match these exactly (Pillow's resampling is integer arithmetic).
- "tensor": the model's input values for one image: rescale, per-channel mean/std, invert, RGB/BGR/
  grayscale, NCHW/NHWC, and dtype float32 (little-endian .f32), float16 (.f16, the bits numpy's
  astype(float16) gives) or uint8 (.u8), computed in float64 and cast as Hugging Face does.

The source images are synthetic (gradients, edges and seeded noise) and saved as PNG, so both sides
decode the same pixels.
"""
import argparse
import json
import os

import numpy as np
from PIL import Image, ImageOps
import torchvision.transforms as T
from torchvision.transforms import InterpolationMode

FILTERS = {
    "nearest": (Image.Resampling.NEAREST, InterpolationMode.NEAREST),
    "box": (Image.Resampling.BOX, InterpolationMode.BOX),
    "bilinear": (Image.Resampling.BILINEAR, InterpolationMode.BILINEAR),
    "hamming": (Image.Resampling.HAMMING, InterpolationMode.HAMMING),
    "bicubic": (Image.Resampling.BICUBIC, InterpolationMode.BICUBIC),
    "lanczos": (Image.Resampling.LANCZOS, InterpolationMode.LANCZOS),
}


def source(width, height, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 / max(1, width - 1))
    g = (y * 255 / max(1, height - 1))
    b = ((x // 7 + y // 5) % 2) * 200 + 20
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 25, (height, width, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def hf_shortest_edge(im, s, method):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = s, int(s * long / short)
    size = (new_short, new_long) if w <= h else (new_long, new_short)
    return im.resize(size, method, reducing_gap=None)


def hf_crop(im, width, height):
    a = np.asarray(im)
    top = (a.shape[0] - height) // 2
    left = (a.shape[1] - width) // 2
    return Image.fromarray(a[top:top + height, left:left + width])


def geometry(im, case):
    pil, tv = FILTERS[case["interpolation"]]
    w, h = case["width"], case["height"]
    mode = case["mode"]
    if mode == "fit":
        return ImageOps.fit(im, (w, h), pil)
    if mode == "stretch":
        sw, sh = case.get("stretchWidth", w), case.get("stretchHeight", h)
        out = im.resize((sw, sh), pil, reducing_gap=None)
        if case.get("crop") == "round":
            return T.CenterCrop((h, w))(out)
        return hf_crop(out, w, h) if (sw, sh) != (w, h) else out
    if mode == "shortest-edge":
        if case["crop"] == "round":
            return T.CenterCrop((h, w))(T.Resize(case["shortestEdge"], interpolation=tv)(im))
        return hf_crop(hf_shortest_edge(im, case["shortestEdge"], pil), w, h)
    if mode == "letterbox":
        fill = case["fill"]
        return ImageOps.pad(im, (w, h), pil, color=tuple(fill) if len(fill) > 1 else fill[0])
    raise ValueError(mode)


def convert(im, colour):
    return im.convert("L") if colour == "grayscale" else im.convert("RGB")


def tensor(window, case):
    a = np.asarray(window, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    if case["colour"] == "bgr":
        a = a[:, :, ::-1]
    if case["invert"]:
        a = 255 - a
    a = (a * case["rescale"] - np.array(case["mean"])) / np.array(case["std"])
    if case["layout"] == "NCHW":
        a = a.transpose(2, 0, 1)
    a = np.ascontiguousarray(a)
    if case["dtype"] == "uint8":
        return a.astype(np.uint8).tobytes(), ".u8"
    f32 = a.astype(np.float32)
    if case["dtype"] == "float16":
        return f32.astype(np.float16).astype("<f2").tobytes(), ".f16"
    return f32.astype("<f4").tobytes(), ".f32"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="inference/test/fixtures/parity")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sources = {"wide-97x61.png": source(97, 61, 1), "tall-61x97.png": source(61, 97, 2), "tiny-13x9.png": source(13, 9, 3)}
    for name, im in sources.items():
        im.save(os.path.join(args.out, name))
    manifest = []

    def add(kind, src, case):
        im = convert(Image.open(os.path.join(args.out, src)), case["colour"])
        window = geometry(im, case)
        assert window.size == (case["width"], case["height"]), (case, window.size)
        stem = f"{os.path.splitext(src)[0]}.{case['id']}"
        if kind == "pixels":
            expected = stem + ".png"
            window.save(os.path.join(args.out, expected))
        else:
            data, ext = tensor(window, case)
            expected = stem + ext
            with open(os.path.join(args.out, expected), "wb") as f:
                f.write(data)
        manifest.append({"kind": kind, "source": src, "expected": expected, **case})

    # Every interpolation x resize mode, 24x20 RGB window (and the tiny source upscaled).
    for interp in FILTERS:
        base = {"interpolation": interp, "width": 24, "height": 20, "colour": "rgb"}
        modes = [
            {"id": f"fit-{interp}", "mode": "fit"},
            {"id": f"stretch-{interp}", "mode": "stretch"},
            {"id": f"stretch-crop-{interp}", "mode": "stretch", "stretchWidth": 31, "stretchHeight": 25, "crop": "floor"},
            {"id": f"shortest-floor-{interp}", "mode": "shortest-edge", "shortestEdge": 27, "crop": "floor"},
            {"id": f"shortest-round-{interp}", "mode": "shortest-edge", "shortestEdge": 27, "crop": "round"},
            {"id": f"letterbox-{interp}", "mode": "letterbox", "fill": [114, 114, 114]},
        ]
        for m in modes:
            for src in ("wide-97x61.png", "tall-61x97.png", "tiny-13x9.png"):
                add("pixels", src, {**base, **m})
    # Grayscale (Pillow's convert('L')) through a few geometries.
    for m in ({"mode": "fit", "interpolation": "lanczos"}, {"mode": "shortest-edge", "shortestEdge": 27, "crop": "round", "interpolation": "bicubic"}, {"mode": "letterbox", "fill": [7], "interpolation": "bilinear"}):
        add("pixels", "wide-97x61.png", {"id": f"gray-{m['mode']}", "width": 24, "height": 20, "colour": "grayscale", **m})

    # Values: colour order, layout, dtype, rescale, mean/std, invert.
    imagenet = {"rescale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    geo = {"mode": "shortest-edge", "shortestEdge": 27, "crop": "floor", "interpolation": "bilinear", "width": 24, "height": 20}
    tensors = [
        {"id": "rgb-nchw-f32-imagenet", "colour": "rgb", "layout": "NCHW", "dtype": "float32", "invert": False, **imagenet},
        {"id": "bgr-nhwc-f32-imagenet", "colour": "bgr", "layout": "NHWC", "dtype": "float32", "invert": False, **imagenet},
        {"id": "rgb-nhwc-f16-half", "colour": "rgb", "layout": "NHWC", "dtype": "float16", "invert": False, "rescale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        {"id": "rgb-nchw-f16-imagenet", "colour": "rgb", "layout": "NCHW", "dtype": "float16", "invert": False, **imagenet},
        {"id": "rgb-nhwc-u8", "colour": "rgb", "layout": "NHWC", "dtype": "uint8", "invert": False, "rescale": 1, "mean": [0, 0, 0], "std": [1, 1, 1]},
        {"id": "gray-nchw-f32-invert", "colour": "grayscale", "layout": "NCHW", "dtype": "float32", "invert": True, "rescale": 1 / 255, "mean": [0.2], "std": [0.3]},
    ]
    for t in tensors:
        add("tensor", "tall-61x97.png", {**geo, **t})
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{len(manifest)} cases in {args.out}")


if __name__ == "__main__":
    main()
