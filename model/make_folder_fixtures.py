#!/usr/bin/python3
"""Write tiny export folders, one per flavour the core reads, with real ONNX models (python3-onnx).

    /usr/bin/python3 model/make_folder_fixtures.py [--out inference/test/fixtures/folders]

Each model averages each input channel over the image and applies a fixed linear layer, so its
answer for a solid-colour image is known exactly: `expected.json` holds, per folder, the scores
(after the activation) for a solid image of colour `colour`, computed here with numpy from the
folder's own preprocessing numbers.

  hf-vit/           ViTImageProcessor, size 16x16, bilinear, mean/std 0.5
  hf-convnext/      ConvNextImageProcessor, shortest_edge 16, crop_pct 0.875, bicubic
  hf-mobilenet/     MobileNetV2ImageProcessor, shortest_edge 18 + crop 16x16, lanczos
  hf-multilabel/    BitImageProcessor, problem_type multi_label_classification (sigmoid, 4 labels)
  hf-keras-nhwc/    a Keras-style export: NHWC input, graph ends in Softmax
  hf-input-named-image/  an input named "image", as the V2 API's BYTES input is
  timm/             config.json with pretrained_cfg (crop_pct, bicubic, ImageNet mean/std) + label_names
  card-v2-uint8/    our card v2: uint8 NHWC input, BGR, letterbox, labels from labels.txt
  card-v2-float16/  our card v2: float16 NCHW input and output, grayscale, stretch, nearest
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def model(channels, size, classes, layout="NCHW", dtype=TensorProto.FLOAT, out_dtype=TensorProto.FLOAT,
          ends_in=None, input_name="pixel_values", output_name="logits", seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, (channels, classes)).astype(np.float32)
    b = rng.normal(0, 0.1, (classes,)).astype(np.float32)
    shape = ["N", channels, size, size] if layout == "NCHW" else ["N", size, size, channels]
    nodes = []
    x = input_name
    if dtype != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [x], ["xf"], to=TensorProto.FLOAT))
        x = "xf"
    axes = [2, 3] if layout == "NCHW" else [1, 2]
    nodes.append(helper.make_node("ReduceMean", [x], ["m"], axes=axes, keepdims=0))
    nodes.append(helper.make_node("MatMul", ["m", "W"], ["mw"]))
    last = "raw" if (ends_in or out_dtype != TensorProto.FLOAT) else output_name
    nodes.append(helper.make_node("Add", ["mw", "B"], [last]))
    if ends_in:
        nxt = output_name if out_dtype == TensorProto.FLOAT else "act"
        nodes.append(helper.make_node(ends_in, [last], [nxt], **({"axis": 1} if ends_in == "Softmax" else {})))
        last = nxt
    if out_dtype != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [last], [output_name], to=out_dtype))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(input_name, dtype, shape)],
        [helper.make_tensor_value_info(output_name, out_dtype, ["N", classes])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m, w, b


def scores(w, b, channel_values, activation):
    z = np.asarray(channel_values, dtype=np.float64) @ w.astype(np.float64) + b
    if activation == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-z))
    return z


def write(out, name, files, onnx_model):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    onnx.save(onnx_model, os.path.join(d, "model.onnx"))
    for fname, content in files.items():
        with open(os.path.join(d, fname), "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content, indent=2))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="inference/test/fixtures/folders")
    args = parser.parse_args()
    colour = [200, 40, 90]  # the solid RGB test image
    expected = {"colour": colour}

    def norm(mean, std, rescale=1 / 255, order=(0, 1, 2)):
        return [(colour[c] * rescale - mean[i]) / std[i] for i, c in enumerate(order)]

    labels3 = {"0": "cat", "1": "dog", "2": "fox"}
    m, w, b = model(3, 16, 3, seed=1)
    write(args.out, "hf-vit", {
        "config.json": {"architectures": ["ViTForImageClassification"], "id2label": labels3, "label2id": {v: int(k) for k, v in labels3.items()}},
        "preprocessor_config.json": {"image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 16, "width": 16},
                                     "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                                     "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    }, m)
    expected["hf-vit"] = list(scores(w, b, norm([0.5] * 3, [0.5] * 3), "softmax"))

    m, w, b = model(3, 16, 3, seed=2)
    write(args.out, "hf-convnext", {
        "config.json": {"id2label": labels3},
        "preprocessor_config.json": {"image_processor_type": "ConvNextImageProcessor", "do_resize": True, "size": {"shortest_edge": 16},
                                     "crop_pct": 0.875, "resample": 3, "do_rescale": True, "rescale_factor": 1 / 255,
                                     "do_normalize": True, "image_mean": IMAGENET[0], "image_std": IMAGENET[1]},
    }, m)
    expected["hf-convnext"] = list(scores(w, b, norm(*IMAGENET), "softmax"))

    m, w, b = model(3, 16, 3, seed=3)
    write(args.out, "hf-mobilenet", {
        "config.json": {"id2label": labels3, "problem_type": "single_label_classification"},
        "preprocessor_config.json": {"image_processor_type": "MobileNetV2ImageProcessor", "do_resize": True, "size": {"shortest_edge": 18},
                                     "resample": 1, "do_center_crop": True, "crop_size": {"height": 16, "width": 16},
                                     "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                                     "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    }, m)
    expected["hf-mobilenet"] = list(scores(w, b, norm([0.5] * 3, [0.5] * 3), "softmax"))

    labels4 = {"0": "red", "1": "green", "2": "blue", "3": "bright"}
    m, w, b = model(3, 16, 4, seed=4)
    # Weights chosen so the answer has labels on both sides of 0.5.
    w = np.array([[3, -3, -3, 1], [-3, 3, -3, 1], [-3, -3, 3, 1]], dtype=np.float32)
    b = np.array([0, 0, 0, -0.5], dtype=np.float32)
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "W"))
    m.graph.initializer[1].CopyFrom(numpy_helper.from_array(b, "B"))
    write(args.out, "hf-multilabel", {
        "config.json": {"id2label": labels4, "problem_type": "multi_label_classification"},
        "preprocessor_config.json": {"image_processor_type": "BitImageProcessor", "do_resize": True, "size": {"shortest_edge": 16},
                                     "resample": 3, "do_center_crop": True, "crop_size": {"height": 16, "width": 16},
                                     "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": False, "do_convert_rgb": True},
    }, m)
    expected["hf-multilabel"] = list(scores(w, b, [c / 255 for c in colour], "sigmoid"))

    m, w, b = model(3, 16, 3, layout="NHWC", ends_in="Softmax", input_name="input_1", output_name="dense", seed=5)
    write(args.out, "hf-keras-nhwc", {
        "config.json": {"id2label": labels3},
        "preprocessor_config.json": {"image_processor_type": "ViTImageProcessor", "size": {"height": 16, "width": 16}, "resample": 2,
                                     "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": False},
    }, m)
    expected["hf-keras-nhwc"] = list(scores(w, b, [c / 255 for c in colour], "softmax"))

    # A model whose input is named "image", like the V2 API's own BYTES input.
    m, w, b = model(3, 16, 3, input_name="image", seed=9)
    write(args.out, "hf-input-named-image", {
        "config.json": {"id2label": labels3},
        "preprocessor_config.json": {"image_processor_type": "ViTImageProcessor", "size": {"height": 16, "width": 16}, "resample": 2,
                                     "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": False},
    }, m)
    expected["hf-input-named-image"] = list(scores(w, b, [c / 255 for c in colour], "softmax"))

    m, w, b = model(3, 16, 3, input_name="input0", output_name="output0", seed=6)
    write(args.out, "timm", {
        "config.json": {"architecture": "tiny", "num_classes": 3, "label_names": ["cat", "dog", "fox"],
                        "pretrained_cfg": {"tag": "test", "input_size": [3, 16, 16], "interpolation": "bicubic", "crop_pct": 0.875,
                                           "crop_mode": "center", "mean": IMAGENET[0], "std": IMAGENET[1], "num_classes": 3,
                                           "pool_size": [1, 1], "first_conv": "conv", "classifier": "head"}},
    }, m)
    expected["timm"] = list(scores(w, b, norm(*IMAGENET), "softmax"))

    m, w, b = model(3, 16, 3, layout="NHWC", dtype=TensorProto.UINT8, input_name="uint8_input", output_name="scores", seed=7)
    sha = None
    write(args.out, "card-v2-uint8", {"labels.txt": "cat\ndog\nfox\n"}, m)
    import hashlib
    with open(os.path.join(args.out, "card-v2-uint8", "model.onnx"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(args.out, "card-v2-uint8", "card.json"), "w") as f:
        json.dump({"schemaVersion": 2, "name": "tiny-uint8", "version": "3", "file": "model.onnx", "sha256": sha, "labelsFile": "labels.txt",
                   "input": {"name": "uint8_input", "dtype": "uint8", "layout": "NHWC"},
                   "output": {"name": "scores", "activation": "softmax"},
                   "preprocessing": {"colour": "bgr", "resize": {"mode": "letterbox", "interpolation": "bilinear", "fill": [0, 0, 0]},
                                     "rescale": 1}}, f, indent=2)
    expected["card-v2-uint8"] = list(scores(w, b, [colour[2], colour[1], colour[0]], "softmax"))

    m, w, b = model(1, 16, 3, dtype=TensorProto.FLOAT16, out_dtype=TensorProto.FLOAT16, input_name="x", output_name="y", seed=8)
    write(args.out, "card-v2-float16", {}, m)
    with open(os.path.join(args.out, "card-v2-float16", "model.onnx"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(args.out, "card-v2-float16", "card.json"), "w") as f:
        json.dump({"schemaVersion": 2, "name": "tiny-float16", "version": "1", "file": "model.onnx", "sha256": sha, "labels": ["cat", "dog", "fox"],
                   "preprocessing": {"colour": "grayscale", "resize": {"mode": "stretch", "interpolation": "nearest"}, "rescale": 1 / 255,
                                     "mean": [0.5], "std": [0.25]}}, f, indent=2)
    luma = (colour[0] * 19595 + colour[1] * 38470 + colour[2] * 7471 + 0x8000) >> 16
    expected["card-v2-float16"] = list(scores(w, b, [(luma / 255 - 0.5) / 0.25], "softmax"))

    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
