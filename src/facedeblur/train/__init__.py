"""Training: the Lightning Fabric engine (:mod:`.engine`), typed recipes (:mod:`.config`), the task plug-in
API (:mod:`.task`) and the tasks by name (:mod:`.recipes`). Importing this package imports nothing heavy.
"""
