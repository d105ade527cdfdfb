#!/usr/bin/python3
"""Write the preprocessing fixtures for the inference core (deterministic).

    /usr/bin/python3 model/make_fixtures.py [--out inference/test/fixtures/preprocess]

For each source image, `<name>.expected.png` is the 8-bit grayscale 28x28 output of the reference
preprocessing (model/card.json `preprocessing.reference`), computed from the SAVED file as Pillow decodes it:

    ImageOps.fit(Image.open(src).convert('L'), (28, 28), Image.LANCZOS)

(the model input is that array / 255). The images are Fashion-MNIST test items (Debian package
dataset-fashion-mnist, MIT licence) upscaled, coloured and composited on gradients / patterns / noise.
`manifest.json` lists every case.
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
from PIL import Image, ImageOps

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def reference(path):
    """The reference preprocessing, from the file on disk. Returns a 28x28 mode-L image."""
    with Image.open(path) as im:
        return ImageOps.fit(im.convert("L"), (28, 28), Image.LANCZOS)


# --------------------------------------------------------------------------- drawing helpers

def upscale(item, size):
    """28x28 uint8 item -> size x size float in [0,1] (bicubic; w,h may differ if size is a tuple)."""
    w, h = (size, size) if isinstance(size, int) else size
    return np.asarray(Image.fromarray(item, "L").resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0


def gradient(w, h, c0, c1, c2=None, direction="x"):
    """RGB float image: linear gradient c0 -> c1 along x (or y, or diagonal 'xy')."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = {"x": xx / max(w - 1, 1), "y": yy / max(h - 1, 1),
         "xy": (xx / max(w - 1, 1) + yy / max(h - 1, 1)) / 2}[direction][..., None]
    g = np.array(c0, np.float32) * (1 - t) + np.array(c1, np.float32) * t
    if c2 is not None:  # add a vertical bias towards c2
        s = (yy / max(h - 1, 1))[..., None] * 0.5
        g = g * (1 - s) + np.array(c2, np.float32) * s
    return g


def paste(canvas, alpha, left, top, colour):
    """Composite a [0,1] coverage mask `alpha` in `colour` (RGB float, or HxWx3 texture) onto canvas."""
    h, w = alpha.shape
    region = canvas[top:top + h, left:left + w]
    a = alpha[..., None]
    canvas[top:top + h, left:left + w] = region * (1 - a) + np.asarray(colour, np.float32) * a
    return canvas


def to_u8(a):
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- cases

def build_cases(test_images, test_labels, rng):
    def item(cls, k=0):
        """k-th test image of class cls."""
        return test_images[np.flatnonzero(test_labels == cls)[k]]

    cases = []

    # 1. 28x28 grayscale: identity (an unmodified Fashion-MNIST test image)
    cases.append(dict(
        name="gray-28.png", image=Image.fromarray(item(9), "L"), save={}, mode="L",
        description="28x28 8-bit grayscale PNG, an unmodified Fashion-MNIST test image (Ankle boot): "
                    "identity case, expected output equals the input"))

    # 2. 28x28 RGB: tinted item on a colour gradient
    c = gradient(28, 28, (20, 40, 120), (10, 110, 60), direction="xy")
    c = paste(c, item(0) / 255.0, 0, 0, (240, 90, 60))
    c += rng.normal(0, 4, c.shape)
    cases.append(dict(
        name="rgb-28.png", image=Image.fromarray(to_u8(c), "RGB"), save={}, mode="RGB",
        description="28x28 RGB PNG: T-shirt tinted coral on a blue-green gradient with light noise "
                    "(no resize; tests the RGB->luma weights and rounding)"))

    # 3. 112x112 RGB JPEG q90
    c = gradient(112, 112, (30, 30, 45), (70, 40, 20), direction="y")
    c += rng.normal(0, 5, c.shape)
    c = paste(c, upscale(item(1), 100), 6, 6, (90, 140, 235))
    cases.append(dict(
        name="rgb-112.jpg", image=Image.fromarray(to_u8(c), "RGB"), save=dict(quality=90), mode="RGB",
        description="112x112 RGB JPEG (quality 90): Trouser in blue on a dark brown gradient with noise "
                    "(4x downscale; JPEG decoding differences also matter)"))

    # 4. 56x56 RGBA with varying alpha; RGB content also under transparent pixels
    c = gradient(56, 56, (200, 60, 160), (40, 180, 200), direction="x")
    stripes = ((np.arange(56) // 4) % 2).astype(np.float32)[None, :, None] * 60
    c = c - stripes
    c = paste(c, upscale(item(2), 50), 3, 3, (250, 240, 120))
    yy, xx = np.mgrid[0:56, 0:56].astype(np.float32)
    r = np.hypot(xx - 27.5, yy - 27.5)
    alpha = np.clip(255 - (r - 14) * 14, 0, 255)                     # opaque centre, transparent corners
    alpha[:, :6] = 0                                                  # fully transparent left band
    alpha[50:, :] = np.linspace(0, 255, 56)[None, :]                  # alpha ramp along the bottom rows
    rgba = np.dstack([to_u8(c), to_u8(alpha)])
    cases.append(dict(
        name="rgba-56.png", image=Image.fromarray(rgba, "RGBA"), save={}, mode="RGBA",
        description="56x56 RGBA PNG: Pullover in yellow on a striped magenta-cyan gradient; alpha is radial "
                    "(opaque centre, transparent corners), a transparent left band and an alpha ramp at the "
                    "bottom, with colour content under the transparent pixels. Pillow convert('L') IGNORES "
                    "alpha (no flattening onto a background), so the expected output shows that content"))

    # 5. 300x200 RGB PNG (wide): the centre square survives the cover-crop, the side items do not
    c = gradient(300, 200, (15, 25, 60), (60, 20, 50), c2=(10, 10, 10), direction="x")
    c = paste(c, upscale(item(3), 180), 60, 10, (230, 200, 210))
    c = paste(c, upscale(item(8), 48), 2, 20, (40, 250, 40))          # left edge, cropped away
    c = paste(c, upscale(item(5), 48), 250, 130, (250, 250, 40))      # right edge, cropped away
    c += rng.normal(0, 2, c.shape)
    cases.append(dict(
        name="rgb-300x200.png", image=Image.fromarray(to_u8(c), "RGB"), save=dict(optimize=True), mode="RGB",
        description="300x200 RGB PNG (wide): Dress in pink, centred, on a navy-purple gradient, plus a green "
                    "Bag at the left edge and a yellow Sandal at the right edge that the centre cover-crop "
                    "(200x200 at x=50) removes"))

    # 6. 90x160 RGB JPEG (tall)
    c = gradient(90, 160, (50, 50, 50), (20, 30, 80), direction="y")
    c[:30] = (230, 230, 230)                                          # bright top band, cropped away
    c[130:] = (200, 30, 30)                                           # red bottom band, cropped away
    c = paste(c, upscale(item(4), 84), 3, 38, (120, 200, 255))
    c += rng.normal(0, 3, c.shape)
    cases.append(dict(
        name="rgb-90x160.jpg", image=Image.fromarray(to_u8(c), "RGB"), save=dict(quality=90), mode="RGB",
        description="90x160 RGB JPEG (tall, quality 90): Coat in light blue, centred, with a white band at the "
                    "top and a red band at the bottom that the centre cover-crop (90x90 at y=35) removes"))

    # 7. 640x480 RGB JPEG (large downscale)
    c = gradient(640, 480, (35, 20, 15), (15, 35, 55), c2=(5, 5, 5), direction="xy")
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    c += (12 * np.sin(xx / 23.0) * np.cos(yy / 31.0))[..., None]      # soft texture
    tex = np.dstack([np.full((440, 440), 230.0), 120 + 80 * upscale(item(6, 1), 440), np.full((440, 440), 60.0)])
    c = paste(c, upscale(item(7), 440), 100, 20, tex)
    c += rng.normal(0, 2, c.shape)
    cases.append(dict(
        name="rgb-640x480.jpg", image=Image.fromarray(to_u8(c), "RGB"), save=dict(quality=90), mode="RGB",
        description="640x480 RGB JPEG (quality 90): Sneaker in orange with a texture, on a dark textured "
                    "gradient (crop 480x480 at x=80, then ~17x downscale)"))

    # 8. palette (mode P) PNG
    c = gradient(64, 64, (250, 220, 40), (30, 120, 200), direction="xy")
    c = paste(c, upscale(item(8, 2), 60), 2, 2, (140, 20, 90))
    p = Image.fromarray(to_u8(c), "RGB").quantize(colors=24, method=Image.MEDIANCUT, dither=Image.FLOYDSTEINBERG)
    cases.append(dict(
        name="palette-64.png", image=p, save=dict(optimize=False), mode="P",
        description="64x64 palette (mode P, 24 colours, Floyd-Steinberg dithered) PNG: Bag in purple on a "
                    "yellow-blue gradient. Pillow converts P->L with the same luma formula on the palette "
                    "entries"))

    # 9. 16-bit grayscale PNG
    g = upscale(item(5, 3), 48) * 60000.0 + np.linspace(0, 4000, 48)[None, :]
    g16 = np.clip(np.rint(g), 0, 65535).astype(np.uint16)
    cases.append(dict(
        name="gray16-48.png", image=Image.fromarray(g16, "I;16"), save={}, mode="I;16", sixteen=g16,
        description="48x48 16-bit grayscale PNG: Sandal, full 16-bit range (0..64000). CAUTION: Pillow 9.4 "
                    "opens it as mode 'I' (32-bit int) and convert('L') CLAMPS each value to 0..255 instead of "
                    "scaling, so the literal Pillow result (`expected`) is saturated (almost every non-zero pixel "
                    "becomes 255). `expectedScaled` is the same pipeline on the 8-bit image value>>8, which is "
                    "what a 16->8-bit converter such as libvips produces (up to rounding)"))

    # 10. 20x20: upscale
    c = gradient(20, 20, (10, 10, 30), (40, 10, 10), direction="x")
    small = np.asarray(Image.fromarray(item(0, 5), "L").resize((18, 18), Image.LANCZOS), np.float32) / 255.0
    c = paste(c, small, 1, 1, (255, 255, 200))
    cases.append(dict(
        name="rgb-20.png", image=Image.fromarray(to_u8(c), "RGB"), save={}, mode="RGB",
        description="20x20 RGB PNG: T-shirt in cream on a dark gradient (upscale case, 20 -> 28)"))
    return cases


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "inference", "test", "fixtures", "preprocess"))
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)

    test_images = read_idx(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"))
    test_labels = read_idx(os.path.join(DATA_DIR, "t10k-labels-idx1-ubyte.gz"))
    rng = np.random.default_rng(28)

    manifest = []
    total = 0
    for case in build_cases(test_images, test_labels, rng):
        name = case["name"]
        src = os.path.join(out, name)
        case["image"].save(src, **case["save"])
        stem = name.rsplit(".", 1)[0]
        expected_name = stem + ".expected.png"
        expected = reference(src)
        assert expected.mode == "L" and expected.size == (28, 28)
        expected.save(os.path.join(out, expected_name))
        # the expected PNG must read back bit-exactly
        assert np.array_equal(np.asarray(Image.open(os.path.join(out, expected_name))), np.asarray(expected))
        with Image.open(src) as im:
            opened_mode, size = im.mode, im.size
            if name == "gray-28.png":
                assert np.array_equal(np.asarray(im), np.asarray(expected)), "identity case must be identity"
        entry = {"source": name, "expected": expected_name, "description": case["description"],
                 "mode": case["mode"], "width": size[0], "height": size[1]}
        if opened_mode != case["mode"]:
            entry["pillowOpenMode"] = opened_mode
        if "sixteen" in case:
            scaled_name = stem + ".expected-scaled.png"
            s8 = Image.fromarray((case["sixteen"] >> 8).astype(np.uint8), "L")
            ImageOps.fit(s8, (28, 28), Image.LANCZOS).save(os.path.join(out, scaled_name))
            entry["expectedScaled"] = scaled_name
            total += os.path.getsize(os.path.join(out, scaled_name))
        manifest.append(entry)
        nbytes = os.path.getsize(src) + os.path.getsize(os.path.join(out, expected_name))
        total += nbytes
        print(f"{name:18s} {case['mode']:5s} opened as {opened_mode:5s} {size[0]}x{size[1]}  "
              f"{os.path.getsize(src):7d} B  expected mean {np.asarray(expected).mean():6.1f}", flush=True)

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{len(manifest)} cases, {total} bytes of images in {out}")


if __name__ == "__main__":
    main()
