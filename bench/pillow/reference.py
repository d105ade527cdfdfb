"""The 2018 tutorial's preprocessing in Pillow (Debian's python3-pil), the reference of bench/photos.ts.

  reference.py percall <iterations> <file>...   -> JSON {"exact": median ms, "draft": median ms}
  reference.py throughput <seconds> <file>...   -> JSON {"images": n, "seconds": s}

exact: Image.open(f).convert('L') then ImageOps.fit((28, 28), Image.LANCZOS), as the tutorial does.
draft: the same after im.draft('L', (112, 112)) (JPEG DCT scaling to at least 4x the target), the
reduction our core's default configuration also keeps.
"""
import io
import json
import statistics
import sys
import time

from PIL import Image, ImageOps

SIZE = (28, 28)


def exact(data):
    return ImageOps.fit(Image.open(io.BytesIO(data)).convert('L'), SIZE, Image.LANCZOS)


def draft(data):
    im = Image.open(io.BytesIO(data))
    im.draft('L', (SIZE[0] * 4, SIZE[1] * 4))
    return ImageOps.fit(im.convert('L'), SIZE, Image.LANCZOS)


def percall(iterations, files):
    datas = [open(f, 'rb').read() for f in files]
    out = {}
    for name, fn in (('exact', exact), ('draft', draft)):
        for d in datas[:2]:
            fn(d)
        times = []
        for _ in range(iterations):
            for d in datas:
                t = time.perf_counter()
                fn(d)
                times.append((time.perf_counter() - t) * 1000)
        out[name] = statistics.median(times)
    return out


def throughput(seconds, files):
    datas = [open(f, 'rb').read() for f in files]
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        exact(datas[n % len(datas)])
        n += 1
    return {'images': n, 'seconds': time.perf_counter() - start}


if __name__ == '__main__':
    mode, arg, files = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    print(json.dumps(percall(int(arg), files) if mode == 'percall' else throughput(arg, files)))
