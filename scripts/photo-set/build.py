"""Makes camera-sized JPEGs from the real photographs in Debian's scikit-image and matplotlib data.

Usage: build.py <folder the .deb files were extracted into> <output folder>
Each photograph is cropped to the target aspect (at the centre and, for the 1920-px set, at both ends
too, so the set holds more distinct frames) and resized with Pillow's Lanczos, then saved as a JPEG of
quality 90, 4:2:0 — what a phone or camera writes. manifest.json lists every file with its size class.

Upscaled frames are smoother than a camera's own: their detail is that of the 300-1,411 px originals.
So the set also holds tiled frames (tiled.json): each photograph repeated at its own pixels, mirrored
at the seams, to fill 1920x1080 and 4032x3024 with the detail of a native frame, for the reduced
decode's fidelity on large frames (REDUCING_GAP).
"""
import json
import os
import sys

from PIL import Image, ImageOps

SOURCES = [
    'astronaut.png', 'brick.png', 'camera.png', 'cell.png', 'chelsea.png', 'clock_motion.png', 'coffee.png',
    'coins.png', 'grass.png', 'gravel.png', 'hubble_deep_field.jpg', 'ihc.png', 'microaneurysms.png', 'moon.png',
    'motorcycle_left.png', 'motorcycle_right.png', 'page.png', 'retina.jpg', 'rocket.jpg',
]
# (size class, width, height, crop positions along the axis that is cropped)
SIZES = [
    ('224', 224, 224, [0.5]),
    ('640x480', 640, 480, [0.5]),
    ('1280x960', 1280, 960, [0.5]),
    ('1920x1080', 1920, 1080, [0.0, 0.5, 1.0]),
    ('12mp', 4032, 3024, [0.5]),
]


def crop_to(im, width, height, position):
    w, h = im.size
    target = width / height
    if w / h > target:
        cw = round(h * target)
        left = round((w - cw) * position)
        return im.crop((left, 0, left + cw, h))
    ch = round(w / target)
    top = round((h - ch) * position)
    return im.crop((0, top, w, top + ch))


def main():
    src_root, out = sys.argv[1], sys.argv[2]
    paths = [os.path.join(src_root, 'usr/lib/python3/dist-packages/skimage/data', s) for s in SOURCES]
    paths.append(os.path.join(src_root, 'usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg'))
    manifest = []
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        im = Image.open(path).convert('RGB')
        for size, width, height, positions in SIZES:
            folder = os.path.join(out, size)
            os.makedirs(folder, exist_ok=True)
            for position in positions:
                frame = crop_to(im, width, height, position).resize((width, height), Image.LANCZOS)
                file = f'{size}/{name}-{int(position * 100)}.jpg'
                frame.save(os.path.join(out, file), quality=90, subsampling=2)
                manifest.append({'file': file, 'size': size, 'width': width, 'height': height, 'source': os.path.basename(path)})
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    tiled = []
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        im = Image.open(path).convert('RGB')
        tiles = [[im, ImageOps.mirror(im)], [ImageOps.flip(im), ImageOps.flip(ImageOps.mirror(im))]]
        for size, width, height in [('1920x1080', 1920, 1080), ('12mp', 4032, 3024)]:
            frame = Image.new('RGB', (width, height))
            for row, top in enumerate(range(0, height, im.height)):
                for column, left in enumerate(range(0, width, im.width)):
                    frame.paste(tiles[row % 2][column % 2], (left, top))
            file = f'tiled/{size}/{name}.jpg'
            os.makedirs(os.path.dirname(os.path.join(out, file)), exist_ok=True)
            frame.save(os.path.join(out, file), quality=90, subsampling=2)
            tiled.append({'file': file, 'size': size, 'width': width, 'height': height, 'source': os.path.basename(path)})
    with open(os.path.join(out, 'tiled.json'), 'w') as f:
        json.dump(tiled, f, indent=1)
    print(f'photo-set: {len(manifest)} photos and {len(tiled)} tiled frames in {out}')


if __name__ == '__main__':
    main()
