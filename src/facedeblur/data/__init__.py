"""Training data: datasets of sharp faces and degraded pairs, sharpness curation.

Import submodules explicitly (``from facedeblur.data.datasets import FaceFolder``); nothing heavy is
imported here.
"""
