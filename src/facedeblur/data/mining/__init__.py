"""Mining face training data from videos: Chrysos & Zafeiriou's framework (CVPRW 2017, section 4).

Per video (see :func:`mine_video`):

1. detect a face in the first frame (:func:`facedeblur.face.detect.detect_faces`), else drop the video;
2. follow its box with OpenCV's CSRT tracker (the closest shipped relative of the paper's SRDCF) and
   run the detector on every frame;
3. keep the video only if tracker and detector boxes reach IoU >= 0.5 in at least half the frames;
   frames where they disagree are rejected;
4. fit dlib's 68 landmarks in the matched detector box of every remaining frame;
5. reject bad fittings with the linear SVM of :mod:`facedeblur.data.fitting_quality`;
6. require movement: the optical flow (median magnitude over the face box, OpenCV DIS through
   :func:`facedeblur.degrade.frames.pair_motion`) since the last accepted frame must reach
   ``min_motion`` pixels, and the video is dropped when its accepted frames move on average more than
   ``max_motion`` pixels per frame, or when fewer than ``min_frames`` frames survive.

Accepted frames are written as aligned crops (:func:`facedeblur.face.align.align_face`, the training
geometry), optionally as full frames, with their landmarks; a JSON report per video gives the reason
for the video's and every frame's rejection. ``pairs`` then frame-averages windows of the accepted
videos (:func:`facedeblur.degrade.frames.frame_windows`) into ``blurred/``/``gt/`` training pairs
aligned on the middle frame's landmarks. Layout of a dataset::

    DATASET/report.json                      the batch core's report: settings, a record per video, frames/s
    DATASET/<video>/report.json              status, reason, one record per frame
    DATASET/<video>/crops/<frame>.png        aligned crops (accepted videos only)
    DATASET/<video>/frames/<frame>.png       full frames (``full_frames``)
    DATASET/<video>/landmarks.json           per accepted frame: box, 5 and 68 points, crop matrix
    DATASET/pairs/{blurred,gt,params}/<video>/<start>_<n>.*   frame-averaged pairs (``pairs``)

A video's folder is built in a hidden staging folder and renamed into place when the video is done.

One job per module: :mod:`~facedeblur.data.mining.config` (settings), :mod:`~.tracker` (CSRT),
:mod:`~.motion` (the movement test), :mod:`~.frames` (reading), :mod:`~.video` (one video),
:mod:`~.pairs` (frame-averaged pairs), :mod:`~.batch` (a set of videos in this process; one Ray task
per video is :func:`facedeblur.distributed.ray_jobs.mine_videos_with_ray`) and :mod:`~.report`.

Example:
    >>> from facedeblur.data.mining import MiningConfig
    >>> MiningConfig(size=64).pair_frames
    (7, 9, 11)
"""

from __future__ import annotations

from facedeblur.data.mining.batch import mine_video_or_report, mine_videos, prepare_dataset, unique_names
from facedeblur.data.mining.config import MiningConfig
from facedeblur.data.mining.pairs import build_pairs
from facedeblur.data.mining.report import REPORT_NAME, format_summary, is_unusable, open_report, video_record
from facedeblur.data.mining.video import mine_video

__all__ = [
    "REPORT_NAME",
    "MiningConfig",
    "build_pairs",
    "format_summary",
    "is_unusable",
    "mine_video",
    "mine_video_or_report",
    "mine_videos",
    "prepare_dataset",
    "open_report",
    "unique_names",
    "video_record",
]
