#!/usr/bin/python3
"""Export torchvision's MobileNetV2 (random weights: speed does not depend on them) as a Hugging Face-style
folder for the `mobilenet` benchmark. Not committed (14 MB); `npm run bench` makes it under .cache/.

    /usr/bin/python3 bench/make-mobilenet.py <out dir>
"""
import json
import os
import sys

import torch
import torchvision

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
net = torchvision.models.mobilenet_v2(weights=None, num_classes=1000).eval()
torch.onnx.export(net, torch.zeros(1, 3, 224, 224), os.path.join(out, "model.onnx"), input_names=["pixel_values"], output_names=["logits"],
                  dynamic_axes={"pixel_values": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({"id2label": {str(i): f"class-{i}" for i in range(1000)}}, f)
with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
    json.dump({"image_processor_type": "MobileNetV2ImageProcessor", "do_resize": True, "size": {"shortest_edge": 256}, "resample": 2,
               "do_center_crop": True, "crop_size": {"height": 224, "width": 224}, "do_rescale": True, "rescale_factor": 1 / 255,
               "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}, f)
print("wrote", out)
