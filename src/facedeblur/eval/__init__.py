"""Evaluation: full-reference and no-reference metrics, classical baselines, public protocols, reports, speed.

Modules (import them directly; this package imports nothing heavy):

- :mod:`facedeblur.eval.metrics`: PSNR, SSIM (RGB and Y), MS-SSIM, identity distances, landmark distance,
  Fréchet identity distance.
- :mod:`facedeblur.eval.niqe`: NIQE no-reference quality with statistics fitted on sharp faces.
- :mod:`facedeblur.eval.classical`: non-blind Wiener and Richardson-Lucy deconvolution (true kernel given).
- :mod:`facedeblur.eval.protocols`: the three public protocols written as pairs folders.
- :mod:`facedeblur.eval.runner`: run a model or baseline over a pairs folder and score every image.
- :mod:`facedeblur.eval.report`: markdown, CSV, plots and comparison grids.
- :mod:`facedeblur.eval.speed`: parameters, FLOPs, CPU/GPU latency and throughput.
- :mod:`facedeblur.eval.benchmark`: one protocol x many methods -> every report file (``facedeblur benchmark``).
- :mod:`facedeblur.eval.faces`: loading faces at the model size, sharpness, seeded choice of sharp faces.
"""
