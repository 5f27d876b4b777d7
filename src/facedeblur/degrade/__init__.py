"""Blur synthesis: kernels, degradation recipes (numpy and batched torch), frame averaging.

Submodules are imported explicitly (``from facedeblur.degrade.recipes import DeblurRecipe``); this
package imports nothing heavy at import time.
"""
