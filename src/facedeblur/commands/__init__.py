"""Subcommands of the ``facedeblur`` CLI; each module imports only the standard library at top level."""
