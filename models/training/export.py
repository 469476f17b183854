"""ONNX export with plain tensor outputs and the calibration inside the graph, plus the parity check."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def export_onnx(model, W: np.ndarray, b: np.ndarray, X_check: np.ndarray, path: Path, calibrate) -> dict:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    n_features = X_check.shape[1]
    # onnxmltools matches XGBoost's f0..fN feature naming; the real names live in the card.
    booster = model.get_booster()
    booster.feature_names = None
    onx = convert_xgboost(model, initial_types=[("features", FloatTensorType([None, n_features]))], target_opset=15)
    g = onx.graph
    if any(n.op_type == "ZipMap" for n in g.node):
        raise SystemExit("exported graph contains ZipMap: onnxruntime-node cannot read it")
    prob_out = next(o for o in g.output if "prob" in o.name)
    # Rename the converter's probability tensor so the calibrated output can take the plain name.
    raw_name = "xgb_raw_probabilities"
    for node in g.node:
        node.output[:] = [raw_name if o == prob_out.name else o for o in node.output]
    # Calibration: softmax(log(max(p, 1e-7)) @ W.T + b), identical to train.calibrate.
    g.initializer.extend([
        numpy_helper.from_array(np.array(1e-7, dtype=np.float32), "cal_eps"),
        numpy_helper.from_array(W.T.astype(np.float32).copy(), "cal_W"),
        numpy_helper.from_array(b.astype(np.float32), "cal_b"),
    ])
    g.node.extend([
        helper.make_node("Max", [raw_name, "cal_eps"], ["cal_clipped"]),
        helper.make_node("Log", ["cal_clipped"], ["cal_log"]),
        helper.make_node("MatMul", ["cal_log", "cal_W"], ["cal_z"]),
        helper.make_node("Add", ["cal_z", "cal_b"], ["cal_logits"]),
        helper.make_node("Softmax", ["cal_logits"], ["probabilities"], axis=1),
        helper.make_node("Identity", [raw_name], ["raw_probabilities"]),
    ])
    del g.output[:]
    g.output.extend([
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 3]),
        helper.make_tensor_value_info("raw_probabilities", TensorProto.FLOAT, [None, 3]),
    ])
    if not any(o.domain in ("", "ai.onnx") for o in onx.opset_import):
        onx.opset_import.append(helper.make_opsetid("", 15))
    onnx.checker.check_model(onx)
    path.write_bytes(onx.SerializeToString())

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    Xc = np.ascontiguousarray(X_check, dtype=np.float32)
    cal, raw = sess.run(["probabilities", "raw_probabilities"], {"features": Xc})
    want_raw = model.predict_proba(Xc)
    want_cal = calibrate(want_raw, W, b)
    raw_diff = float(np.abs(raw - want_raw).max())
    cal_diff = float(np.abs(cal - want_cal).max())
    assert np.allclose(raw, want_raw, atol=1e-5), f"ONNX raw probabilities differ from XGBoost by {raw_diff}"
    assert np.allclose(cal, want_cal, atol=1e-5), f"ONNX calibrated probabilities differ by {cal_diff}"
    sample = {"features": Xc[:8].tolist(), "probabilities": want_cal[:8].tolist(), "rawProbabilities": want_raw[:8].tolist()}
    return {"maxRawDiff": raw_diff, "maxCalibratedDiff": cal_diff, "sample": sample}
