"""A compact Temporal Fusion Transformer (Lim et al., 2021) for one-step classification.

Kept to the parts that matter for a window of past feature rows and no static covariates:
  per-variable embeddings -> variable selection network (gated residual networks) -> LSTM encoder
  -> gated skip + layer norm -> enrichment GRN -> interpretable multi-head attention (last step
  queries the whole window) -> gated skip -> position-wise GRN -> gated skip over the temporal block
  -> linear head over the classes HOLD, BUY, SELL.

Input normalisation (training mean / std, clipped) lives inside the network so the exported ONNX
graph takes the raw feature rows that core/features.ts produces, and nothing else has to agree on
scaling. Only ops that the legacy TorchScript ONNX exporter and onnxruntime handle well are used.
"""

import torch
from torch import nn
import torch.nn.functional as F

CLASS_ORDER = ["HOLD", "BUY", "SELL"]


class GatedLinearUnit(nn.Module):
    def __init__(self, d_in: int, d_out: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(d_in, 2 * d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(self.dropout(x)).chunk(2, dim=-1)
        return value * torch.sigmoid(gate)


class GateAddNorm(nn.Module):
    """TFT's gated skip connection: LayerNorm(residual + GLU(x))."""

    def __init__(self, d_in: int, d_out: int, dropout: float):
        super().__init__()
        self.glu = GatedLinearUnit(d_in, d_out, dropout)
        self.norm = nn.LayerNorm(d_out)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.norm(residual + self.glu(x))


class GatedResidualNetwork(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float):
        super().__init__()
        self.skip = nn.Linear(d_in, d_out) if d_in != d_out else nn.Identity()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.fc2 = nn.Linear(d_hidden, d_hidden)
        self.out = GateAddNorm(d_hidden, d_out, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc2(F.elu(self.fc1(x))), self.skip(x))


class PerVariableGRN(nn.Module):
    """One GRN per input variable, all evaluated at once with batched weights ([..., F, d] -> [..., F, d])
    instead of F separate modules, which keeps both training and the ONNX graph small."""

    def __init__(self, n_vars: int, d: int, dropout: float):
        super().__init__()
        scale = d ** -0.5
        self.w1 = nn.Parameter(torch.randn(n_vars, d, d) * scale)
        self.b1 = nn.Parameter(torch.zeros(n_vars, d))
        self.w2 = nn.Parameter(torch.randn(n_vars, d, d) * scale)
        self.b2 = nn.Parameter(torch.zeros(n_vars, d))
        self.wg = nn.Parameter(torch.randn(n_vars, d, 2 * d) * scale)
        self.bg = nn.Parameter(torch.zeros(n_vars, 2 * d))
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, f, d = x.shape
        # Variables first: [F, b*n, d], so each variable is one plain batched GEMM against its own weights.
        v = x.permute(2, 0, 1, 3).reshape(f, b * n, d)
        h = F.elu(torch.bmm(v, self.w1) + self.b1.unsqueeze(1))
        h = torch.bmm(h, self.w2) + self.b2.unsqueeze(1)
        value, gate = (torch.bmm(self.dropout(h), self.wg) + self.bg.unsqueeze(1)).chunk(2, dim=-1)
        out = self.norm(v + value * torch.sigmoid(gate))
        return out.reshape(f, b, n, d).permute(1, 2, 0, 3)


class VariableSelectionNetwork(nn.Module):
    """Softmax weights over the input variables (from a GRN over all of them) mix the per-variable GRN outputs."""

    def __init__(self, n_vars: int, d: int, dropout: float):
        super().__init__()
        self.weights_grn = GatedResidualNetwork(n_vars * d, d, n_vars, dropout)
        self.var_grn = PerVariableGRN(n_vars, d, dropout)

    def forward(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, f, d = emb.shape
        weights = torch.softmax(self.weights_grn(emb.reshape(b, n, f * d)), dim=-1)
        mixed = (self.var_grn(emb) * weights.unsqueeze(-1)).sum(dim=2)
        return mixed, weights


class InterpretableAttention(nn.Module):
    """TFT's interpretable multi-head attention: heads have their own query/key projections but share one value
    projection, and their outputs are averaged, so the mean attention weights read as one importance per time
    step. Only the last step queries (the model predicts from the last closed candle), so no mask is needed."""

    def __init__(self, d: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.d_head = d // n_heads
        self.q = nn.Linear(d, self.d_head * n_heads)
        self.k = nn.Linear(d, self.d_head * n_heads)
        self.v = nn.Linear(d, self.d_head)
        self.out = nn.Linear(self.d_head, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, _ = seq.shape
        q = self.q(seq[:, -1:, :]).reshape(b, 1, self.n_heads, self.d_head).transpose(1, 2)  # [b, h, 1, dh]
        k = self.k(seq).reshape(b, n, self.n_heads, self.d_head).transpose(1, 2)  # [b, h, n, dh]
        v = self.v(seq).unsqueeze(1)  # [b, 1, n, dh] shared by every head
        attn = torch.softmax(q @ k.transpose(-1, -2) * self.d_head ** -0.5, dim=-1)  # [b, h, 1, n]
        heads = self.dropout(attn) @ v  # [b, h, 1, dh]
        return self.out(heads.mean(dim=1)), attn.mean(dim=1)  # [b, 1, d], [b, 1, n]


class TemporalFusionClassifier(nn.Module):
    def __init__(self, n_features: int, d: int = 16, n_heads: int = 4, dropout: float = 0.1, clip: float = 6.0):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        self.clip = clip
        # Each scalar variable gets its own linear embedding (TFT's treatment of real-valued inputs).
        self.embed_w = nn.Parameter(torch.randn(n_features, d) * 0.5)
        self.embed_b = nn.Parameter(torch.zeros(n_features, d))
        self.vsn = VariableSelectionNetwork(n_features, d, dropout)
        self.lstm = nn.LSTM(d, d, batch_first=True)
        self.lstm_gate = GateAddNorm(d, d, dropout)
        self.enrichment = GatedResidualNetwork(d, d, d, dropout)
        self.attention = InterpretableAttention(d, n_heads, dropout)
        self.attention_gate = GateAddNorm(d, d, dropout)
        self.position_grn = GatedResidualNetwork(d, d, d, dropout)
        self.output_gate = GateAddNorm(d, d, dropout)
        self.head = nn.Linear(d, len(CLASS_ORDER))

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(torch.clamp(std, min=1e-8))

    def forward_with_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits [b, 3], variable-selection weights [b, n, F], attention over time steps [b, n]."""
        z = torch.clamp((x - self.feature_mean) / self.feature_std, -self.clip, self.clip)
        emb = z.unsqueeze(-1) * self.embed_w + self.embed_b  # [b, n, F, d]
        selected, var_weights = self.vsn(emb)
        encoded, _ = self.lstm(selected)
        temporal = self.lstm_gate(encoded, selected)
        enriched = self.enrichment(temporal)
        attended, attn = self.attention(enriched)
        last = self.attention_gate(attended, enriched[:, -1:, :])
        last = self.position_grn(last)
        last = self.output_gate(last, temporal[:, -1:, :])
        return self.head(last.squeeze(1)), var_weights, attn.squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_weights(x)[0]


class ProbabilityExport(nn.Module):
    """What ships: raw feature windows in, softmaxed class probabilities out."""

    def __init__(self, model: TemporalFusionClassifier):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(features), dim=-1)
