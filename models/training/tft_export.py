"""ONNX export of the TFT with its parity check, and the expected outputs the Node test compares against."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OPSET = 17


def _export_module(model, temperature: float):
    import torch
    from tft_model import ProbabilityExport

    class Tempered(ProbabilityExport):
        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.model(features) / temperature, dim=-1)

    return Tempered(model).eval()


def torch_probabilities(model, temperature: float, windows: np.ndarray) -> np.ndarray:
    import torch

    module = _export_module(model, temperature)
    with torch.no_grad():
        return module(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))).numpy()


def export_onnx(model, temperature: float, windows: np.ndarray, path: Path, atol: float) -> dict:
    """Input `features` [batch, N, F] float32 with a dynamic batch axis, output `probabilities` [batch, 3]."""
    import onnx
    import onnxruntime as ort
    import torch

    module = _export_module(model, temperature)
    example = torch.from_numpy(np.ascontiguousarray(windows[:2], dtype=np.float32))
    # The TorchScript exporter handles nn.LSTM as one ONNX LSTM node; dynamo=False selects it.
    torch.onnx.export(module, (example,), str(path), input_names=["features"], output_names=["probabilities"],
                      dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=OPSET, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)))
    want = torch_probabilities(model, temperature, windows)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(["probabilities"], {"features": np.ascontiguousarray(windows, dtype=np.float32)})[0]
    diff = float(np.abs(got - want).max())
    assert got.shape == (len(windows), 3), f"ONNX output shape {got.shape}"
    assert diff <= atol, f"ONNX probabilities differ from torch by {diff}"
    return {"maxDiff": diff, "opset": OPSET}


def variable_importance(model, X: np.ndarray, ends: np.ndarray, length: int, names: list[str]) -> dict:
    """Mean variable-selection weight of each feature over the given windows (TFT's built-in importance)."""
    import torch

    model.eval()
    idx = ends[:, None] + np.arange(-length + 1, 1)[None, :]
    with torch.no_grad():
        _, weights, _ = model.forward_with_weights(torch.from_numpy(X[idx]))
    mean = weights.mean(dim=(0, 1)).numpy()
    order = np.argsort(-mean)
    return {names[i]: round(float(mean[i]), 4) for i in order}


def write_fixture(model, temperature: float, dataset: Path, out: Path, onnx_path: Path, length: int, atol: float, per_symbol: int = 4) -> int:
    """Expected probabilities for a few windows of a small dataset built from the test's klines fixture.
    The Node test recomputes those windows with core/features.ts from the raw candles and must agree."""
    import onnxruntime as ort
    from tft import gather, window_ends
    from train import load_dataset

    side, X, meta, _ = load_dataset(dataset)
    ends = window_ends(meta, float(side["intervalMs"]), length)
    chosen = []
    for sid in np.unique(meta[ends, 1]):
        mine = ends[meta[ends, 1] == sid]
        chosen.extend(mine[np.linspace(0, len(mine) - 1, min(per_symbol, len(mine))).astype(int)].tolist())
    chosen = np.array(chosen)
    windows = gather(X, chosen, length)
    want = torch_probabilities(model, temperature, windows)
    got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(["probabilities"], {"features": windows})[0]
    assert np.abs(got - want).max() <= atol, "fixture: ONNX and torch disagree"
    entries = [{"symbol": side["symbols"][int(meta[r, 1])], "endTime": int(meta[r, 0]), "probabilities": [float(v) for v in want[i]]}
               for i, r in enumerate(chosen)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": onnx_path.parent.name, "window": length, "featureNames": side["featureNames"],
                               "source": "torch (eval mode) on windows of the fixture dataset", "entries": entries}, indent=2) + "\n")
    return len(entries)
