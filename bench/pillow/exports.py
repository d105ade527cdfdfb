"""Python references for `npm run bench -- exports` (bench/exports.ts): what a Hugging Face ViT processor
and timm's eval transform give for each photo, and how long Pillow/torchvision take, one core.

  exports.py <out dir> <file>...   -> JSON {file: {"vit": median ms, "timm": median ms}}; tensors as
                                      <out dir>/<index>.<vit|timm>.f32 (float32, CHW)

vit: ViTImageProcessor at 224x224 as transformers does it: exif_transpose, convert('RGB'),
     resize((224, 224), BILINEAR, reducing_gap=None), /255, (x - 0.5) / 0.5.
timm: the eval transform of inference/test/fixtures/folders/timm (input 16, bicubic, crop_pct 0.875,
      ImageNet mean/std) with torchvision: Resize(18, BICUBIC), CenterCrop(16), ToTensor, Normalize.
"""
import io
import json
import sys
import time

import numpy as np
import torchvision.transforms as T
from PIL import Image, ImageOps


def vit(data):
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert('RGB')
    a = np.asarray(im.resize((224, 224), Image.BILINEAR, reducing_gap=None), dtype=np.float32)
    return ((a / 255 - 0.5) / 0.5).transpose(2, 0, 1)


TIMM = T.Compose([T.Resize(18, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(16), T.ToTensor(),
                  T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


def timm(data):
    return TIMM(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert('RGB')).numpy()


if __name__ == '__main__':
    out_dir, files = sys.argv[1], sys.argv[2:]
    result = {}
    for index, f in enumerate(files):
        data = open(f, 'rb').read()
        result[f] = {}
        for name, fn in (('vit', vit), ('timm', timm)):
            fn(data)
            times = []
            for _ in range(3):
                t = time.perf_counter()
                a = fn(data)
                times.append((time.perf_counter() - t) * 1000)
            np.ascontiguousarray(a, dtype=np.float32).tofile(f'{out_dir}/{index}.{name}.f32')
            result[f][name] = sorted(times)[1]
    print(json.dumps(result))
