"""The whole model as one ONNX graph: raw columns in, probabilities and decisions out.

Inputs: one per raw column of the model's input schema, in training order, shape [N, 1]
(N dynamic): float for a numeric or boolean column (NaN = missing), string for a
categorical one ("" and the CSV reader's missing words, `NA`, `null`, ... = missing). The
graph then does what `predict` does:

- numeric: a missing value gets the column's fill value (`Where(IsNaN(x), fill, x)`), a
  0/1 `[missing]` input is added where the model has one, and the value is standardized
  ((x - mean) / std, float32, as `preprocess.standardize`);
- categorical: `ai.onnx.ml.LabelEncoder` maps each value to its one-hot slot (a category
  of the training split, `<missing>`, or `<other>`; -1 for a value the model never saw
  without an `<other>` slot), and `Equal` against the slot numbers makes the one-hot row
  (all zeros for -1);
- the MLP (`Gemm` + activation per layer), the calibration when the model has one
  (a·z + b), `Sigmoid`, and the per-label decisions `p > threshold`.

Outputs: `probabilities` [N, L] float32 and `decisions` [N, L] int64.

Why the graph is built with `onnx.helper` rather than `torch.onnx`: what torch would trace
is the MLP alone (three ops a layer); the raw-column inputs, the string lookup and the
imputation are not torch code, and `ai.onnx.ml` operators are not torch's to emit. The
graph is checked with `onnx.checker` and tested against `sigmoidnet predict` through
onnxruntime. A missing value in a numeric column the model has no fill value for (no
missing value in its training rows, `impute: error`) is an error in `predict` and NaN here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sigmoidnet.errors import UsageError

if TYPE_CHECKING:
    from sigmoidnet.artifact import Artifact

OPSET = 17
ML_OPSET = 3
#: what a string input holds for a missing value (those of the CSV reader)
MISSING_WORDS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL")


def require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise UsageError(
            "export",
            "ONNX export needs the onnx package: pip install 'sigmoidnet[onnx]' "
            "(onnx and onnxruntime)",
        ) from None
    return onnx


def build_model(art: Artifact) -> Any:
    """The `onnx.ModelProto` of `art`."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    pre = art.preprocessor
    nodes: list[Any] = []
    inits: list[Any] = []
    inputs: list[Any] = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(value: Any, dtype: Any = np.float32) -> str:
        n = name("c")
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), n))
        return n

    def node(op: str, ins: list[str], domain: str = "", **attrs: Any) -> str:
        out = name(op.lower())
        nodes.append(helper.make_node(op, ins, [out], domain=domain, **attrs))
        return out

    mean = pre.mean_ if pre.mean_ is not None else None
    std = pre.std_ if pre.std_ is not None else None
    pieces: list[str] = []  # [N, k] float blocks, in the model's input order
    j = 0
    for spec in pre.columns:
        if spec.numeric:
            inputs.append(helper.make_tensor_value_info(spec.name, TensorProto.FLOAT, ["N", 1]))
            x = spec.name
            nan = node("IsNaN", [x])
            filled = x
            if spec.fill is not None:
                filled = node("Where", [nan, const([[spec.fill]]), x])
            if mean is not None and std is not None:
                filled = node("Div", [node("Sub", [filled, const([[mean[j]]])]), const([[std[j]]])])
            pieces.append(filled)
            if spec.indicator:
                pieces.append(node("Cast", [nan], to=TensorProto.FLOAT))
            j += 1
        else:
            inputs.append(helper.make_tensor_value_info(spec.name, TensorProto.STRING, ["N", 1]))
            k = len(spec.categories)
            missing_at = k if spec.missing_slot else -1
            other_at = k + int(spec.missing_slot) if spec.other_slot else -1
            if not spec.missing_slot:
                missing_at = other_at  # as `predict`: like a value never seen
            keys = list(spec.categories)
            values = list(range(k))
            for w in MISSING_WORDS:
                if w not in keys:
                    keys.append(w)
                    values.append(missing_at)
            idx = node(
                "LabelEncoder",
                [spec.name],
                domain="ai.onnx.ml",
                keys_strings=keys,
                values_int64s=values,
                default_int64=other_at,
            )
            slots = const(np.arange(spec.width, dtype=np.int64).reshape(1, -1), np.int64)
            pieces.append(node("Cast", [node("Equal", [idx, slots])], to=TensorProto.FLOAT))
    x = pieces[0] if len(pieces) == 1 else node("Concat", pieces, axis=1)
    # the MLP
    import torch

    layers = [m for m in art.model.net if isinstance(m, torch.nn.Linear)]
    act = art.config.model.activation
    for i, lin in enumerate(layers):
        weight = lin.weight.detach().to("cpu").numpy().astype(np.float32)
        bias = lin.bias.detach().to("cpu").numpy().astype(np.float32)
        x = node("Gemm", [x, const(weight), const(bias)], transB=1)
        if i < len(layers) - 1:
            x = _activation(act, x, node, const)
    logits = x
    cal = art.calibration
    if cal is not None:
        logits = node("Add", [node("Mul", [logits, const([cal["a"]])]), const([cal["b"]])])
    probs = node("Sigmoid", [logits])
    decisions = node(
        "Cast", [node("Greater", [probs, const([art.thresholds])])], to=TensorProto.INT64
    )
    nodes.append(helper.make_node("Identity", [probs], ["probabilities"]))
    nodes.append(helper.make_node("Identity", [decisions], ["decisions"]))
    n_labels = len(art.label_names)
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_labels]),
        helper.make_tensor_value_info("decisions", TensorProto.INT64, ["N", n_labels]),
    ]
    graph = helper.make_graph(nodes, "sigmoidnet", inputs, outputs, inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="sigmoidnet",
        producer_version=art.sigmoidnet_version,
    )
    model.ir_version = 8  # onnxruntime 1.14+ reads it
    helper.set_model_props(
        model,
        {
            "labels": ",".join(art.label_names),
            "thresholds": ",".join(repr(float(t)) for t in art.thresholds),
            "opset": str(OPSET),
        },
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def _activation(act: str, x: str, node: Any, const: Any) -> str:
    if act == "relu":
        return str(node("Relu", [x]))
    if act == "tanh":
        return str(node("Tanh", [x]))
    if act == "sigmoid":
        return str(node("Sigmoid", [x]))
    if act == "leaky_relu":
        return str(node("LeakyRelu", [x], alpha=0.01))
    if act == "elu":
        return str(node("Elu", [x], alpha=1.0))
    if act == "silu":
        return str(node("Mul", [x, node("Sigmoid", [x])]))
    if act == "gelu":  # exact (erf) GELU, as torch's default: 0.5·x·(1 + erf(x/√2))
        inner = node("Erf", [node("Div", [x, const(np.sqrt(2.0))])])
        return str(node("Mul", [node("Mul", [x, const(0.5)]), node("Add", [inner, const(1.0)])]))
    raise ValueError(f"no ONNX form for activation {act!r}")


def export_onnx(checkpoint: str | Path, out: str | Path) -> Path:
    """Write `checkpoint`'s model as ONNX to `out` (atomically); the path written."""
    require_onnx()
    from sigmoidnet import artifact
    from sigmoidnet.fsutil import atomic_write_bytes, output_error

    path = Path(out)
    if path.is_dir():
        raise UsageError(str(path), "is a folder; give the .onnx file to write")
    if not path.parent.is_dir():
        raise UsageError(str(path), f"no folder {path.parent}: create it first")
    art = artifact.load(checkpoint)
    model = build_model(art)
    try:
        atomic_write_bytes(path, model.SerializeToString())
    except OSError as e:
        raise output_error(str(path), e, "cannot write the ONNX file") from None
    return path
