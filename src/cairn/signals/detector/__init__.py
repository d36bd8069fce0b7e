"""A learned AI-image detector the user supplies (an ONNX model and a JSON config): the config, the run, the
evaluation on a labelled set. cairn ships no weights; onnxruntime is optional and imported only when used."""
