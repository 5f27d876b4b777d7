"""Restoration networks, one file per architecture; :mod:`facedeblur.models.registry` maps names to builders."""
