"""Face toolkit: detection, landmarks, alignment and paste-back, parsing maps, identity network.

Submodules are imported explicitly (``from facedeblur.face.detect import detect_faces``); this package
imports nothing heavy so that ``import facedeblur.face`` stays instant.

- :mod:`facedeblur.face.model_files`: locate dlib's model files shipped by ``face-recognition-models``.
- :mod:`facedeblur.face.detectors`: detector backends (CenterFace, dlib HOG, dlib MMOD) behind one interface.
- :mod:`facedeblur.face.search`: the automatic search (scales and tiles from the image size and the
  smallest face wanted, time bounded, reported).
- :mod:`facedeblur.face.detect`: :class:`~facedeblur.face.detect.Face` and
  :func:`~facedeblur.face.detect.detect_faces` (the search plus dlib's 5/68-point landmarks).
- :mod:`facedeblur.face.align`: canonical template, similarity warp and its inverse, loose crop.
- :mod:`facedeblur.face.paste`: feathered paste-back of restored crops.
- :mod:`facedeblur.face.parsing`: 10-class parsing maps rasterised from 68 landmarks.
"""
