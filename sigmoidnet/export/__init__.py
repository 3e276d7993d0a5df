"""Model export: `onnx.export_onnx` (the whole model as one ONNX graph)."""
