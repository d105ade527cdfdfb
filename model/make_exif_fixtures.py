#!/usr/bin/python3
"""Write the EXIF-orientation parity fixtures (deterministic; Debian's Pillow 9.4).

    /usr/bin/python3 model/make_exif_fixtures.py <chelsea.png> [--out inference/test/fixtures/exif]

The source is a real photograph (scikit-image's chelsea.png, from Debian's python3-skimage; see
scripts/photo-set/build.sh for where it is unpacked), reduced to 96x64 so the fixtures stay small,
then saved as JPEG (quality 90) once per EXIF orientation 1-8: the same stored pixels, a different
tag, as a phone writes them. For each, the expected model window is what a Pillow user gets with
`ImageOps.exif_transpose(im).convert('RGB')` then `ImageOps.fit(im, (24, 16), BILINEAR)` (a wide
window, so a rotation that is not applied cannot pass), and, for orientation 6, without
exif_transpose (the deployment that turns orientation off).
"""
import argparse
import json
import os

from PIL import Image, ImageOps

SIZE = (24, 16)


def window(im):
    return ImageOps.fit(im.convert("RGB"), SIZE, Image.Resampling.BILINEAR)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("photo")
    parser.add_argument("--out", default="inference/test/fixtures/exif")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    photo = Image.open(args.photo).convert("RGB").resize((96, 64), Image.Resampling.LANCZOS, reducing_gap=None)
    manifest = []
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        name = f"chelsea-o{orientation}.jpg"
        path = os.path.join(args.out, name)
        photo.save(path, quality=90, exif=exif.tobytes())
        loaded = Image.open(path)
        assert loaded.getexif().get(0x0112) == orientation
        oriented = window(ImageOps.exif_transpose(loaded))
        expected = f"chelsea-o{orientation}.expected.png"
        oriented.save(os.path.join(args.out, expected))
        entry = {"source": name, "orientation": orientation, "expected": expected}
        if orientation == 6:
            entry["expectedIgnoringOrientation"] = "chelsea-o6.as-stored.png"
            window(Image.open(path)).save(os.path.join(args.out, entry["expectedIgnoringOrientation"]))
        manifest.append(entry)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump({"width": SIZE[0], "height": SIZE[1], "interpolation": "bilinear", "mode": "fit", "cases": manifest}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
