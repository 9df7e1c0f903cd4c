"""Training and evaluation only: data-set splits, fine-tuning and ONNX export helpers.
No service imports it at run time."""
