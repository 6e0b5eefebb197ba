"""The `standard`, `attnres`, `attnres-softmax1` and `oasis` presets of framework/model written in Python
PyTorch, at the C++ defaults (model.* of framework/core/config.h: tied embeddings, SwiGLU hidden 8/3 d rounded
up to 64, norm eps 1e-5, init std 0.02, RoPE theta 1e4, one AttnRes block per layer, OASIS variant a with ema
0, no detach, sites both, mean over heads, gate bias -6). `attnres-softmax1` is AttnRes with Softmax1
attention (p_j = e^{s_j} / (1 + sum e^s), framework/kernels/softmax.h) and no null gate. The other
model.oasis.* settings (OasisOptions: variant b/ab, ema_rate, detach, sites, per_head, gate_bias_init) are
written as framework/model/routers/attnres.cpp and framework/model/depth_router.cpp compute them.

Why the file exists: to time the C++ training and evaluation steps against Python PyTorch (eager and
torch.compile) on the same model, and as an independent reference of what the presets compute. So the
modules carry the C++ parameter names, shapes and count, the same initialisation rule and the same maths;
only the random numbers differ (tools/python_reference/make_fixture.py sets deterministic weights instead and
pins the outputs for the C++ tests). Attention is either one scaled_dot_product_attention call, as the C++
`attention_kernel: auto` (= fused) runs it (framework/kernels/fused_attention.cpp), or written out (scores ->
normalizer -> weighted sum), as `attention_kernel: written` runs it.
"""
import dataclasses
import math

import torch
import torch.nn.functional as F

PRESETS = ("standard", "attnres", "attnres-softmax1", "oasis")
# framework/model/presets.cpp: the presets' attention normalizer (softmax1 = a zero null logit per query) and
# whether the router carries the OASIS null signal (null_signal oasis; what it does: OasisOptions).
SOFTMAX1_PRESETS = ("attnres-softmax1", "oasis")
NULL_GATED_PRESETS = ("oasis",)
NORM_EPS, INIT_STD, ROPE_THETA, GATE_BIAS_INIT = 1e-5, 0.02, 10000.0, -6.0
NULL_SOURCE_PENALTY_INIT = -6.0  # lambda before softplus (depth_router.cpp): softplus(-6) = 0.0025
STAT_CHANNELS = 8  # the fused softmax1's real and null mass plus zeros: head sizes stay multiples of 8


@dataclasses.dataclass(frozen=True)
class OasisOptions:
    """model.oasis.* (framework/core/config.h OasisConfig), at the C++ defaults. Variant a: the null evidence of
    each attention sublayer gates the updates of the next routing sites; b: each depth source carries its
    layers' mean null mass, which lowers its routing logit; ab: both."""
    variant: str = "a"  # a | b | ab
    ema_rate: float = 0.0  # rho: n = rho n_prev + (1 - rho) e, from layer 1 on; 0 = the immediate value
    detach: bool = False  # stop gradients through the null evidence (LSE and null mass)
    sites: str = "both"  # the routing sites whose update the gate scales: both | attn | mlp
    per_head: bool = False  # learned per-head weights (null_head_weights) instead of the mean over heads
    gate_bias_init: float = GATE_BIAS_INIT  # c

    def __post_init__(self):
        assert self.variant in ("a", "b", "ab"), self.variant
        assert self.sites in ("both", "attn", "mlp"), self.sites


@dataclasses.dataclass(frozen=True)
class NullSignal:
    """routers/attnres.cpp resolve_null_signal: the OASIS settings as the forward pass needs them (all off for
    presets without the oasis null signal)."""
    gated_updates: bool = False  # variant a or ab
    aware_sources: bool = False  # variant b or ab
    gate_attn: bool = False  # which sites' updates the gate scales
    gate_mlp: bool = False
    per_head: bool = False
    detach: bool = False
    ema_rate: float = 0.0
    gate_bias_init: float = 0.0

    @staticmethod
    def resolve(preset, o):
        if preset not in NULL_GATED_PRESETS:
            return NullSignal()
        gated = o.variant != "b"
        return NullSignal(gated_updates=gated, aware_sources=o.variant != "a", gate_attn=gated and o.sites != "mlp",
                          gate_mlp=gated and o.sites != "attn", per_head=o.per_head, detach=o.detach,
                          ema_rate=o.ema_rate, gate_bias_init=o.gate_bias_init)


def inverse_rms(x, eps):
    # Through the 2-norm, as framework/kernels/rms_norm.cpp's reference: no x^2 tensor.
    return torch.rsqrt(torch.linalg.vector_norm(x, 2, dim=-1, keepdim=True).square() / x.shape[-1] + eps)


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps=NORM_EPS):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * inverse_rms(x, self.eps) * self.weight


def rotary_tables(head_dim, seq, theta=ROPE_THETA, dtype=torch.float32):
    half = head_dim // 2
    inv_freq = theta ** (-torch.arange(0, half, dtype=torch.float64) / half)
    angles = torch.outer(torch.arange(seq, dtype=torch.float64), inv_freq)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def written_scores(q, k):
    T = q.shape[-2]
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    return (q @ k.transpose(-2, -1) * (1.0 / math.sqrt(q.shape[-1]))).masked_fill(future, float("-inf"))


def softmax1_written(q, k, v):
    # p_j = e^{s_j} / (1 + sum e^s) = softmax(s)_j sigmoid(LSE) (framework/model/normalizers.h).
    scores = written_scores(q, k)
    lse = torch.logsumexp(scores, dim=-1)
    return (torch.softmax(scores, dim=-1) * torch.sigmoid(lse).unsqueeze(-1)) @ v, lse


def softmax1_fused(q, k, v):
    # framework/kernels/fused_attention.cpp: a null key of zeros (the zero logit) with a zero value goes before
    # the keys, a dummy query before the queries so the padded block stays causal. Two more value channels
    # carry the real mass (1 on every key) and the null mass (1 on the null key): LSE = log(real) - log(null).
    B, H, T, D = q.shape
    width = D + STAT_CHANNELS
    zero_row = q.new_zeros(1, 1, 1, width)
    null_value = zero_row.clone()
    null_value[..., D + 1] = 1

    def prepend(x, row):
        return torch.cat([row.expand(B, H, 1, width), x], dim=2)

    pad = (0, STAT_CHANNELS)
    values = torch.cat([v, v.new_ones(B, H, T, 1), v.new_zeros(B, H, T, STAT_CHANNELS - 1)], dim=-1)
    out = F.scaled_dot_product_attention(prepend(F.pad(q, pad), zero_row), prepend(F.pad(k, pad), zero_row),
                                         prepend(values, null_value), is_causal=True, scale=1.0 / math.sqrt(D))
    out = out[:, :, 1:]
    tiny = torch.finfo(out.dtype).tiny
    return out[..., :D], out[..., D].clamp_min(tiny).log() - out[..., D + 1].clamp_min(tiny).log()


class CausalSelfAttention(torch.nn.Module):
    """On the normalized input. Returns the output and, for softmax1, each query's LSE of the real scores
    [B, H, T] (the OASIS null evidence is its negative), else None. Grouped-query attention with kv_heads <
    heads (model.n_kv_heads): wqkv's rows are the `heads` query heads, then the kv_heads key heads, then the
    kv_heads value heads (head_dim = d / heads each); query head h reads key/value head h // (heads /
    kv_heads) (Hugging Face Llama's repeat_kv: repeat_interleave over the head axis)."""

    def __init__(self, d, heads, softmax1, fused, kv_heads=None):
        super().__init__()
        kv_heads = kv_heads or heads
        assert d % heads == 0 and heads % kv_heads == 0, (d, heads, kv_heads)
        self.heads, self.kv_heads, self.softmax1, self.fused = heads, kv_heads, softmax1, fused
        self.wqkv = torch.nn.Linear(d, (heads + 2 * kv_heads) * (d // heads), bias=False)
        self.wo = torch.nn.Linear(d, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        D = C // self.heads
        if self.kv_heads == self.heads:
            qkv = self.wqkv(x).view(B, T, 3, self.heads, D).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
        else:
            q, k, v = self.wqkv(x).split([self.heads * D, self.kv_heads * D, self.kv_heads * D], dim=-1)
            q, k, v = (t.view(B, T, -1, D).transpose(1, 2) for t in (q, k, v))
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if self.kv_heads != self.heads:  # [B, kv_heads, T, D] -> [B, heads, T, D]
            group = self.heads // self.kv_heads
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        lse = None
        if self.softmax1:
            heads, lse = (softmax1_fused if self.fused else softmax1_written)(q, k, v)
        elif self.fused:
            heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            heads = torch.softmax(written_scores(q, k), dim=-1) @ v
        return self.wo(heads.transpose(1, 2).reshape(B, T, C)), lse


class SwiGLU(torch.nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.w_gate = torch.nn.Linear(d, hidden, bias=False)
        self.w_up = torch.nn.Linear(d, hidden, bias=False)
        self.w_down = torch.nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


class DepthRouter(torch.nn.Module):
    """One AttnRes routing site (framework/model/depth_router.cpp): per token, a softmax over depth of the
    zero-initialised pseudo-query w against RMS-normalised sources, z_i = (v_i . (g * w)) / rms(v_i), h =
    sum_i softmax(z)_i v_i. `mixes` is false for the first site, which only sees the embedding (no query, no
    key norm: they could never learn). With the OASIS gate (variant a) the site also returns keep = 1 -
    pi_null = sigmoid(LSE_i z_i - a n_t - c), the factor of the update of the sublayer it feeds. With
    null-aware sources (variant b; mixing sites only) z_i -= softplus(lambda) nu_i, nu_i the mean null mass of
    the layers behind source i (the embedding's is 0)."""

    def __init__(self, d, mixes, null_gate, aware_sources=False, gate_bias_init=GATE_BIAS_INIT):
        super().__init__()
        self.mixes, self.null_gate = mixes, null_gate
        self.aware_sources = aware_sources and mixes
        if mixes:
            self.query = torch.nn.Parameter(torch.zeros(d))
            self.key_norm = RMSNorm(d)
        if null_gate:
            if mixes:  # the first site has no null evidence before it: only the bias c
                self.null_scale = torch.nn.Parameter(torch.zeros(1))
            self.null_bias = torch.nn.Parameter(torch.full((1,), gate_bias_init))
        if self.aware_sources:
            self.null_source_penalty = torch.nn.Parameter(torch.full((1,), NULL_SOURCE_PENALTY_INIT))

    def forward(self, sources, signal, nulls=None):
        """sources: [B, T, d] each, the embedding first; signal: n_t [B, T] (gated sites only); nulls: [B, T]
        per source (null-aware sites only). Returns h [B, T, d] and keep [B, T, 1] (None without the gate)."""
        if not self.mixes:
            # LSE of one zero logit is 0: keep = sigmoid(-c), the same for every token.
            return sources[0], torch.sigmoid(-self.null_bias) if self.null_gate else None
        v = torch.stack(sources)  # [S, B, T, d]
        z = (v @ (self.key_norm.weight * self.query)) * inverse_rms(v, self.key_norm.eps).squeeze(-1)
        if self.aware_sources:  # depth_router.cpp: offset = -softplus(lambda) * stack(nulls), z = z + offset
            z = z + -F.softplus(self.null_source_penalty) * torch.stack(nulls)
        h = (torch.softmax(z, dim=0).unsqueeze(-1) * v).sum(0)
        if not self.null_gate:
            return h, None
        return h, torch.sigmoid(torch.logsumexp(z, dim=0) - (self.null_bias + self.null_scale * signal)).unsqueeze(-1)


class DepthSources:
    """What the routing sites mix (framework/model/depth_router.h): the completed blocks, the embedding
    first, and the partial sum of the current block's sublayer updates. With `track_null` (variant b) also
    each source's mean null mass: 0 for the embedding, the mean over a block's attention sublayers for a
    completed block, the running mean so far for the partial block (0 if it has none yet)."""

    def __init__(self, embedding, per_block, track_null=False):
        self.blocks, self.partial, self.per_block, self.sublayers = [embedding], None, per_block, 0
        self.track_null = track_null
        self.nulls = [embedding.new_zeros(embedding.shape[:-1])] if track_null else None
        self.partial_null, self.partial_null_count = None, 0

    def all(self):
        return self.blocks if self.partial is None else self.blocks + [self.partial]

    def partial_null_mean(self):
        if self.partial_null_count:
            return self.partial_null / float(self.partial_null_count)
        return torch.zeros_like(self.partial[..., 0])

    def all_nulls(self):
        if not self.track_null:
            return None
        return self.nulls if self.partial is None else self.nulls + [self.partial_null_mean()]

    def add_partial_null(self, nu):
        # The null mass [B, T] of an attention sublayer (before its update joins the partial sum).
        self.partial_null = nu if self.partial_null is None else self.partial_null + nu
        self.partial_null_count += 1

    def add(self, update, keep):
        if keep is not None:
            update = update * keep
        self.partial = update if self.partial is None else self.partial + update
        self.sublayers += 1
        if self.sublayers % self.per_block == 0:  # the block becomes a source of its own
            self.blocks.append(self.partial)
            if self.track_null:
                self.nulls.append(self.partial_null_mean())
            self.partial = None
            self.partial_null, self.partial_null_count = None, 0


class DecoderBlock(torch.nn.Module):
    def __init__(self, d, heads, hidden, preset, fused, first, last, null, sites, kv_heads=None):
        super().__init__()
        self.attn_norm = RMSNorm(d)
        self.attn = CausalSelfAttention(d, heads, softmax1=preset in SOFTMAX1_PRESETS, fused=fused,
                                        kv_heads=kv_heads)
        self.mlp_norm = RMSNorm(d)
        self.mlp = SwiGLU(d, hidden)
        self.null_head_weights = None
        if preset != "standard":
            # routers/attnres.cpp register_block.
            self.route_attn = DepthRouter(d, mixes=not first, null_gate=null.gate_attn,
                                          aware_sources=null.aware_sources, gate_bias_init=null.gate_bias_init)
            self.route_mlp = DepthRouter(d, mixes=True, null_gate=null.gate_mlp, aware_sources=null.aware_sources,
                                         gate_bias_init=null.gate_bias_init)
            # The layer's null signal is read by its own MLP site (sites both/mlp) or the next attention site
            # (sites both/attn; none after the last layer): only then do per-head weights exist.
            signal_read = sites != "attn" or not last
            if null.gated_updates and null.per_head and signal_read:
                self.null_head_weights = torch.nn.Parameter(torch.full((heads,), 1.0 / heads))


class Transformer(torch.nn.Module):
    """framework/model/transformer.cpp for one of PRESETS. `fused`: the attention kernel (see the top).
    `kv_heads`: model.n_kv_heads, the key/value heads of grouped-query attention (None or 0 = heads)."""

    def __init__(self, preset, vocab, d, layers, heads, seq, fused=True, oasis=OasisOptions(), kv_heads=None):
        super().__init__()
        assert preset in PRESETS, preset
        self.preset = preset
        self.null = NullSignal.resolve(preset, oasis)
        hidden = ((8 * d + 2) // 3 + 63) // 64 * 64
        self.embed = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(
            DecoderBlock(d, heads, hidden, preset, fused, i == 0, i == layers - 1, self.null, oasis.sites,
                         kv_heads=kv_heads)
            for i in range(layers))
        if preset != "standard":
            self.final_route = DepthRouter(d, mixes=True, null_gate=False, aware_sources=self.null.aware_sources)
        self.final_norm = RMSNorm(d)
        cos, sin = rotary_tables(d // heads, seq)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        # Normal(0, 0.02) for every matrix, the residual-stream writers scaled by 1/sqrt(2 L) (GPT-2); vectors
        # keep their constructor values (norm gains 1, queries 0, gate scale 0, gate bias -6, source penalty
        # -6, head weights 1/H).
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                residual_out = "attn.wo" in name or "mlp.w_down" in name
                torch.nn.init.normal_(p, 0.0, INIT_STD / math.sqrt(2 * layers) if residual_out else INIT_STD)

    def forward(self, tokens):
        T = tokens.shape[1]
        cos, sin = self.cos[:T], self.sin[:T]
        x = self.embed(tokens)
        x = self.forward_standard(x, cos, sin) if self.preset == "standard" else self.forward_attnres(x, cos, sin)
        return F.linear(self.final_norm(x), self.embed.weight)  # tied LM head

    def forward_standard(self, x, cos, sin):
        for block in self.blocks:
            x = x + block.attn(block.attn_norm(x), cos, sin)[0]
            x = x + block.mlp(block.mlp_norm(x))
        return x

    def forward_attnres(self, x, cos, sin):
        # One block per layer: each block is the layer's two sublayer updates. routers/attnres.cpp AttnResStream.
        n = self.null
        sources = DepthSources(x, per_block=2, track_null=n.aware_sources)
        signal = x.new_zeros(x.shape[:2]) if n.gated_updates else None  # n_t, read by the gated sites
        for i, block in enumerate(self.blocks):
            h, keep = block.route_attn(sources.all(), signal, sources.all_nulls())
            update, lse = block.attn(block.attn_norm(h), cos, sin)
            if n.aware_sources:  # the sublayer's mean null mass over heads (softmax1: sigmoid(-LSE)), variant b
                nu = torch.sigmoid(-lse).mean(1)
                sources.add_partial_null(nu.detach() if n.detach else nu)
            sources.add(update, keep)
            if n.gated_updates:  # e_t = mean_h(-LSE) (or the head weights) -> the signal of the next sites
                lse = lse.detach() if n.detach else lse
                w = block.null_head_weights
                evidence = -(lse * w.view(1, -1, 1)).sum(1) if w is not None else -lse.mean(1)
                signal = n.ema_rate * signal + (1.0 - n.ema_rate) * evidence if n.ema_rate > 0 and i > 0 else evidence
            h, keep = block.route_mlp(sources.all(), signal, sources.all_nulls())
            sources.add(block.mlp(block.mlp_norm(h)), keep)
        return self.final_route(sources.all(), signal, sources.all_nulls())[0]
