"""The batch core every batch command runs on (``restore`` in process and on Ray, ``faces``,
``degrade``, ``evaluate``, ``mine``, ``data``, the web demo).

- :mod:`facedeblur.batch.inputs`: files, folders, globs and ``@lists`` expanded into input files; the
  one list of image and video extensions.
- :mod:`facedeblur.batch.paths`: the output-path policy: no output may be an input or land inside an
  input folder being read, and no two outputs of a run may share a path; refused up front.
- :mod:`facedeblur.batch.report`: per-file records and the JSON report, written atomically as the run
  goes, so an interrupted run leaves it and a resumed run carries its records over.
- :mod:`facedeblur.batch.run`: the loop: any error of one file becomes that file's one-line failure
  record and the run goes on; a full or read-only disk stops it with one line; leftover temporary
  files of earlier, killed runs are removed.
- :mod:`facedeblur.batch.restore_files`: what ``restore`` does to one file (image, aligned face or
  video, plus ``--compare`` and ``--save-faces``), shared by the command, the Ray actors and the demo.

Every module here imports only the standard library at top level (commands import them while
building the parser); numpy, images and videos are imported inside the functions that use them.
"""
