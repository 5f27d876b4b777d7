"""Deployment: ONNX / TorchScript export (:mod:`.export`) and ONNX Runtime inference (:mod:`.onnx_backend`).

Nothing is imported here: :mod:`.onnx_backend` must load without torch.
"""
