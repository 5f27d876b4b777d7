"""Subcommands of the ``facedeblur`` CLI; each module imports only the standard library at top level.

:mod:`facedeblur.commands.grammar` holds the options they share (``--quiet``, ``--set``, ``--device``,
``--skip-bad``, ``--model``) and :func:`~facedeblur.commands.grammar.add_command`, which gives every
sub-command its examples section.
"""

from facedeblur.commands.grammar import add_skip_bad_argument

__all__ = ["add_skip_bad_argument"]
