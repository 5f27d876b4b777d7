"""Scaling out: Ray jobs for video mining and large restoration batches (Ray is imported lazily)."""
