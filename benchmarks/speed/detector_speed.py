"""Where CenterFace's time goes on one CPU core: graph optimisation, weight storage, int8, the search.

Times (CPU seconds of one thread, best of ``--repeats``) of the shipped ONNX file in ONNX Runtime
at each graph optimisation level, of an all-float32 copy of it (the float16 weights cast once, in
memory; needs the ``onnx`` package) and of an int8 static quantisation of that copy (calibrated on
UTKFace faces; needs ``onnxruntime.quantization``), on a whole 1080p-sized image and on a batch of
64 crops of 64 px (what the zoomed search runs); then the default search on a 1080p photo of
random faces split into proposal pass, crops and landmarks.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/speed/detector_speed.py ../shared/data/utkface/val
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _best(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def _session(path: Path, level):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = level
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _float32_copy(source: Path, target: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    initializers = {t.name: t for t in model.graph.initializer}
    casts = [n for n in model.graph.node if n.op_type == "Cast" and n.input[0] in initializers]
    for node in casts:
        array = numpy_helper.to_array(initializers[node.input[0]]).astype(np.float32)
        model.graph.initializer.remove(initializers[node.input[0]])
        model.graph.initializer.append(numpy_helper.from_array(array, node.output[0]))
        model.graph.node.remove(node)
    onnx.save(model, str(target))


def _int8_copy(source: Path, target: Path, faces: list[np.ndarray]) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Faces(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter([{"input.1": f.transpose(2, 0, 1)[None].astype(np.float32)} for f in faces])

        def get_next(self):
            return next(self._items, None)

    quantize_static(
        str(source),
        str(target),
        Faces(),
        quant_format=QuantFormat.QOperator,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faces", type=Path, help="UTKFace val folder (calibration and the test photo)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import cv2
    import onnxruntime as ort

    from facedeblur.face.detectors.centerface import WEIGHTS
    from facedeblur.images import read_image

    faces = [read_image(p) for p in sorted(args.faces.glob("*.jpg"))[:64]]
    rng = np.random.default_rng(0)
    whole = rng.uniform(0, 255, (1, 3, 1088, 1920)).astype(np.float32)
    crops = np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA) for f in faces]).transpose(0, 3, 1, 2)
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    models = {"shipped (float16 storage)": WEIGHTS}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _float32_copy(WEIGHTS, Path(tmp) / "fp32.onnx")
            models["float32 copy"] = Path(tmp) / "fp32.onnx"
            _int8_copy(models["float32 copy"], Path(tmp) / "int8.onnx", [cv2.resize(f, (256, 256)) for f in faces[:16]])
            models["int8 static"] = Path(tmp) / "int8.onnx"
        except ImportError as error:
            print(f"(skipped the float32 / int8 copies: {error})")
        levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
        levels["extended"] = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        levels["basic"] = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        print("| model | graph optimisation | 1088 x 1920 (s) | s / Mpx | 64 crops of 64 px (s) |")
        print("| --- | --- | ---: | ---: | ---: |")
        for name, path in models.items():
            for level_name, level in levels.items():
                if name != "shipped (float16 storage)" and level_name != "all":
                    continue
                session = _session(path, level)
                t_whole = _best(lambda s=session: s.run(None, {"input.1": whole}), args.repeats)
                t_crops = _best(lambda s=session: s.run(None, {"input.1": crops}), args.repeats)
                print(f"| {name} | {level_name} | {t_whole:.3f} | {t_whole / 2.089:.3f} | {t_crops:.3f} |")

    from facedeblur.face import search as search_module
    from facedeblur.face.detect import find_faces

    photo = np.full((1080, 1920, 3), 110, np.uint8)
    for i, face in enumerate(faces[:36]):
        side = (24, 32, 48, 80, 120, 160)[i % 6]
        x, y = 60 + (i % 9) * 205, 60 + (i // 9) * 250
        photo[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    find_faces(photo)  # load the network and the landmark predictor
    split = {"proposal pass": 0.0, "crops": 0.0}
    run_pass, check = search_module._run_pass, search_module._check_proposals

    def timed(key, function):
        def wrapper(*a, **k):
            start = time.process_time()
            out = list(function(*a, **k)) if key == "proposal pass" else function(*a, **k)
            split[key] += time.process_time() - start
            return out

        return wrapper

    search_module._run_pass, search_module._check_proposals = timed("proposal pass", run_pass), timed("crops", check)
    try:
        start = time.process_time()
        result = find_faces(photo)
        total = time.process_time() - start
    finally:
        search_module._run_pass, search_module._check_proposals = run_pass, check
    print(
        f"\n1080p photo, {len(result.faces)} faces found, {result.report.crops} crops: {total:.3f} CPU s in all; "
        f"passes {split['proposal pass']:.3f} s, crops {split['crops']:.3f} s, "
        f"landmarks and the rest {total - split['proposal pass'] - split['crops']:.3f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
