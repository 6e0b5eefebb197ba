"""Writes tests/fixtures/pytorch_reference.json: pinned numbers (llm.c style) of a tiny model of each of the
presets standard, attnres, attnres-softmax1 and oasis, and of two more OASIS configurations that pin its other
code paths (PRESETS below: oasis-ab = variant ab with per-head weights, depth EMA 0.5 and only the attention
sites gated; oasis-detach-mlp = detached evidence, only the MLP sites gated), and standard-gqa / oasis-gqa:
grouped-query attention (4 query heads sharing 2 key/value heads in pairs, model.n_kv_heads), computed by the Python PyTorch
presets of models.py in fp32 with attention written out (scores -> normalizer -> weighted sum: the C++
`attention_kernel: written` path), so that a C++ test can hold framework/model and framework/train to an
independent implementation at 1e-5 without shipping weights. Each entry's "config" holds its key=value
overrides, applied after the top-level "config".

Why deterministic weights: the C++ and Python random number streams differ, so both sides set every
parameter from one closed-form rule instead (WEIGHT_RULE below, also written into the JSON):
  parameters sorted by name (Python sorted() of the named_parameters() names, which are the C++ names; the
  tied LM head is embed.weight, once), p = index in that list, k = index in the row-major flattened tensor;
  matrices (dim >= 2): w = 0.05 sin(0.37 k + 1.1 p + 0.5);
  vectors (dim < 2):   w = c + 0.1 sin(0.37 k + 1.1 p + 0.5), c the constructor value (norm gains 1, routing
  queries 0, null_scale 0, null_bias model.oasis.gate_bias_init = -6; see constructor_value);
  computed in float64, then cast to fp32.
Tokens: t[b, i] = (31 b + 7 i + 3 i^2) % vocab, i = 0..seq; inputs t[:, :-1], targets t[:, 1:].

Per preset the file holds the parameter sums (to diagnose a mismatched weight rule), a slice of the logits and
their sum, the loss (mean token cross-entropy, framework/train/trainer.cpp lm_loss), every parameter's
gradient norm, the largest relative difference of those norms from an fp64 run of the same model and weights
(grad_norms_fp64_max_rel_diff: the fp32 rounding the norms carry, for choosing a tolerance), and the losses of
5 optimizer steps on the same batch, each step as the C++ trainer takes it
(train_stage): gradients cleared, loss, backward, clip_grad_norm_ to train.grad_clip, AdamW with the
arithmetic of MultiTensorAdamW (framework/train/optimizer.cpp) in its two groups, at the constant LR that
lr_at gives with warmup_steps 0 and min_lr_ratio 1.

Rerun (from the repository root; the output is byte for byte reproducible on one torch version):
  .venv/bin/python tools/python_reference/make_fixture.py
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from models import GATE_BIAS_INIT, NULL_SOURCE_PENALTY_INIT, OasisOptions, Transformer, rotary_tables  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fixtures", "pytorch_reference.json")
COMMAND = ".venv/bin/python tools/python_reference/make_fixture.py"
# Fixture entry -> its key=value overrides (after CONFIG). The model.oasis.* keys are OasisOptions' fields.
PRESETS = {
    "standard": {"model.preset": "standard"},
    "attnres": {"model.preset": "attnres"},
    "attnres-softmax1": {"model.preset": "attnres-softmax1"},
    "oasis": {"model.preset": "oasis"},
    # Variant b's null-aware source logits and variant a's gate, per-head evidence weights, the depth EMA
    # (from layer 1 on), only the attention sites gated (so the last layer has no head weights).
    "oasis-ab": {"model.preset": "oasis", "model.oasis.variant": "ab", "model.oasis.per_head": True,
                 "model.oasis.ema_rate": 0.5, "model.oasis.sites": "attn"},
    # Gradients stopped at the null evidence, only the MLP sites gated.
    "oasis-detach-mlp": {"model.preset": "oasis", "model.oasis.detach": True, "model.oasis.sites": "mlp"},
    # Grouped-query attention: 4 query heads (head_dim 8), 2 key/value heads, query head h reading kv head h // 2;
    # wqkv [(4 + 2 * 2) * 8, 32] = [64, 32], rows: the query heads, the key heads, the value heads.
    "standard-gqa": {"model.preset": "standard", "model.n_heads": 4, "model.n_kv_heads": 2},
    "oasis-gqa": {"model.preset": "oasis", "model.n_heads": 4, "model.n_kv_heads": 2},
}
VOCAB, D_MODEL, N_HEADS, N_LAYERS, BATCH, SEQ = 61, 32, 2, 2, 2, 16
STEPS = 5
LOGIT_POSITIONS, LOGIT_VOCAB = (0, 1, SEQ - 1), 8

# The run configuration as C++ key=value overrides (framework/core/config.h names). Everything here is either
# the fixture's size or the C++ default, stated so the test does not depend on the defaults staying put.
# model.router / normalizer / gate / null_signal stay "" (the preset's choice, framework/model/presets.cpp);
# model.preset is per preset (presets.<name>.config). model.n_kv_heads (0 = n_heads) is not stated here, only in
# the entries that set it (the *-gqa entries), so the other entries do not need the key.
CONFIG = {
    "device": "cpu",
    "precision": "fp32",
    "attention_kernel": "written",
    "model.d_model": D_MODEL,
    "model.n_heads": N_HEADS,
    "model.n_layers": N_LAYERS,
    "model.max_seq_len": SEQ,
    "model.d_ff": 0,  # SwiGLU hidden (8 * 32 + 2) // 3 = 86, rounded up to 128
    "model.rope_theta": 10000.0,
    "model.norm_eps": 1e-5,
    "model.init_std": 0.02,  # unused: the weight rule replaces the initialisation
    "model.tie_embeddings": True,
    "model.attnres_blocks": 0,  # one block per layer
    "model.oasis.variant": "a",
    "model.oasis.ema_rate": 0.0,
    "model.oasis.detach": False,
    "model.oasis.sites": "both",
    "model.oasis.per_head": False,
    "model.oasis.gate_bias_init": GATE_BIAS_INIT,
    "data.seq_len": SEQ,
    "train.batch_size": BATCH,
    "train.grad_accum": 1,
    "train.steps": STEPS,
    "train.lr": 1e-3,
    "train.warmup_steps": 0,
    "train.min_lr_ratio": 1.0,  # with no warmup lr_at(t, s) = lr (min_lr_ratio + (1 - min_lr_ratio) cos..) = lr
    "train.weight_decay": 0.1,
    "train.beta1": 0.9,
    "train.beta2": 0.95,
    "train.adam_eps": 1e-8,
    "train.grad_clip": 1.0,
    "train.adamw_kernel": "foreach",  # MultiTensorAdamW (auto = foreach on cpu)
    "train.decay_norms_and_embeddings": False,
}

# Constructor values of the vector parameters, by the last name parts, as the C++ constructors set them:
# RMSNormImpl (layers.cpp: ones), DepthRouterImpl (depth_router.cpp: query zeros, null_scale zeros,
# null_bias gate_bias_init, null_source_penalty -6) and AttnResRouter::register_block (routers/attnres.cpp:
# null_head_weights 1/n_heads, on the decoder block). null_source_penalty exists only for oasis.variant b/ab,
# null_head_weights only for oasis.per_head (oasis-ab).
CONSTRUCTOR_VALUES = {
    "query": 0.0,
    "null_scale": 0.0,
    "null_bias": GATE_BIAS_INIT,
    "null_source_penalty": NULL_SOURCE_PENALTY_INIT,
}
NORM_GAIN = 1.0  # <module>norm.weight: attn_norm, mlp_norm, final_norm, key_norm

WEIGHT_RULE = (
    "Parameters sorted by name (Python sorted() of the named_parameters() names = the C++ names; the tied LM "
    "head appears once, as embed.weight); p = index in that sorted list (0-based), k = index in the row-major "
    "flattened tensor (0-based). Matrices (dim >= 2): w = 0.05 * sin(0.37*k + 1.1*p + 0.5). Vectors (dim < 2): "
    "w = c + 0.1 * sin(0.37*k + 1.1*p + 0.5), c the constructor value: 1 for RMSNorm gains (*norm.weight: "
    "attn_norm, mlp_norm, final_norm, key_norm), 0 for routing queries (*.query), 0 for null_scale, "
    "model.oasis.gate_bias_init = -6 for null_bias, -6 for null_source_penalty (oasis variant b/ab), 1/n_heads "
    "for null_head_weights (oasis per_head). Computed in float64, then cast to fp32."
)
TOKEN_RULE = ("t[b, i] = (31*b + 7*i + 3*i*i) % vocab_size for b in 0..batch_size-1, i in 0..seq_len (seq_len + 1 "
              "columns); inputs t[:, :-1], targets t[:, 1:]")


def constructor_value(name, heads):
    module, _, leaf = name.rpartition(".")
    if leaf == "weight" and module.rpartition(".")[2].endswith("norm"):
        return NORM_GAIN
    if leaf == "null_head_weights":
        return 1.0 / heads
    if leaf in CONSTRUCTOR_VALUES:
        return CONSTRUCTOR_VALUES[leaf]
    raise KeyError(f"no constructor value known for vector parameter {name}")


def entry_config(entry):
    """CONFIG with the entry's overrides, as the C++ test applies them."""
    return {**CONFIG, **PRESETS[entry]}


def oasis_options(config):
    fields = {f: config[f"model.oasis.{f}"] for f in OasisOptions.__dataclass_fields__}
    return OasisOptions(**fields)


def build(entry):
    """The entry's model with the weight rule applied; checks the constructor values the rule relies on."""
    config = entry_config(entry)
    heads = config["model.n_heads"]
    model = Transformer(config["model.preset"], VOCAB, D_MODEL, N_LAYERS, heads, SEQ, fused=False,
                        oasis=oasis_options(config), kv_heads=config.get("model.n_kv_heads", 0) or heads)
    named = dict(model.named_parameters())
    with torch.no_grad():
        for p_index, name in enumerate(sorted(named)):
            param = named[name]
            k = torch.arange(param.numel(), dtype=torch.float64)
            wave = torch.sin(0.37 * k + 1.1 * p_index + 0.5)
            if param.dim() >= 2:
                value = 0.05 * wave
            else:
                c = constructor_value(name, heads)
                # models.py's own constructor value must be the C++ one the rule names.
                assert torch.equal(param, torch.full_like(param, c)), (name, param)
                value = c + 0.1 * wave
            param.copy_(value.reshape(param.shape).to(torch.float32))
    return model


def tokens():
    b = torch.arange(BATCH, dtype=torch.int64).unsqueeze(1)
    i = torch.arange(SEQ + 1, dtype=torch.int64).unsqueeze(0)
    t = (31 * b + 7 * i + 3 * i * i) % VOCAB
    return t[:, :-1].contiguous(), t[:, 1:].contiguous()


def lm_loss(model, inputs, targets):
    # framework/train/trainer.cpp lm_loss: mean cross-entropy over all B * T tokens, fp32 logits.
    logits = model(inputs)
    return logits, F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))


def clip_grad_norm_(params, max_norm):
    # torch::nn::utils::clip_grad_norm_ (LibTorch): the 2-norm of the per-parameter 2-norms, coefficient
    # max_norm / (norm + 1e-6) clamped to at most 1, gradients scaled in place. Returns the norm before.
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.stack([g.norm(2.0) for g in grads]).norm(2.0)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef)
    return total.item()


class AdamW:
    """framework/train/optimizer.cpp: make_optimizer's two groups (matrices other than the embedding decay;
    vectors and the embedding do not, decay_norms_and_embeddings false) stepped with MultiTensorAdamW's
    arithmetic, op for op."""

    def __init__(self, model, t):
        self.lr, self.b1, self.b2, self.eps = t["train.lr"], t["train.beta1"], t["train.beta2"], t["train.adam_eps"]
        self.groups = ([], [])
        for name, p in model.named_parameters():
            exempt = p.dim() < 2 or "embed" in name
            self.groups[1 if exempt and not t["train.decay_norms_and_embeddings"] else 0].append(p)
        self.decays = (t["train.weight_decay"], 0.0)
        self.state = {}

    @torch.no_grad()
    def step(self):
        for params, wd in zip(self.groups, self.decays):
            for p in params:
                if p.grad is None:
                    continue
                s = self.state.setdefault(p, {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
                s["step"] += 1
                bias_root2 = math.sqrt(1 - self.b2 ** s["step"])
                neg_step_size = -self.lr / (1 - self.b1 ** s["step"])
                if wd != 0:
                    p.mul_(1 - self.lr * wd)
                s["m"].mul_(self.b1).add_(p.grad, alpha=1 - self.b1)
                s["v"].mul_(self.b2).addcmul_(p.grad, p.grad, value=1 - self.b2)
                denom = s["v"].sqrt().div_(bias_root2).add_(self.eps)
                p.addcdiv_(s["m"], denom, value=neg_step_size)


def as_floats(t):
    return [float(x) for x in t.reshape(-1).tolist()] if t.dim() <= 1 else [as_floats(row) for row in t]


def grad_norms_fp64(entry, inputs, targets):
    """The gradient norms of `loss` from the same model and the same (fp32) weights run in float64 throughout:
    weights, RoPE tables (recomputed, not the fp32 ones widened), logits and cross-entropy."""
    model = build(entry).double()
    cos, sin = rotary_tables(D_MODEL // entry_config(entry)["model.n_heads"], SEQ, dtype=torch.float64)
    model.cos, model.sin = cos, sin
    logits = model(inputs)
    F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1)).backward()
    return {n: float(p.grad.norm()) for n, p in model.named_parameters()}


def reference(entry, inputs, targets):
    model = build(entry)
    names = sorted(n for n, _ in model.named_parameters())
    named = dict(model.named_parameters())
    out = {
        "config": PRESETS[entry],
        "parameter_count": sum(p.numel() for p in model.parameters()),
        "parameter_names": names,
        "parameter_sums": {n: float(named[n].detach().double().sum()) for n in names},
    }
    logits, loss = lm_loss(model, inputs, targets)
    loss.backward()
    out["logits"] = as_floats(logits.detach()[:, list(LOGIT_POSITIONS), :LOGIT_VOCAB])
    out["logits_sum"] = float(logits.detach().double().sum())
    out["loss"] = float(loss.item())
    out["grad_norms"] = {n: float(named[n].grad.double().norm()) for n in names}

    # A fresh model for the steps, as the trainer (train_stage) takes them.
    model = build(entry)
    params = list(model.parameters())
    optimizer = AdamW(model, CONFIG)
    step_losses, step_grad_norms = [], []
    for _ in range(STEPS):
        model.zero_grad(set_to_none=True)  # clear_gradients
        _, loss = lm_loss(model, inputs, targets)
        loss.backward()
        step_losses.append(float(loss.item()))
        step_grad_norms.append(clip_grad_norm_(params, CONFIG["train.grad_clip"]))
        optimizer.step()
    with torch.no_grad():
        out["loss_after_steps"] = float(lm_loss(model, inputs, targets)[1].item())
    out["step_losses"] = step_losses
    out["step_grad_norms"] = step_grad_norms

    fp64 = grad_norms_fp64(entry, inputs, targets)
    assert sorted(fp64) == names
    out["grad_norms_fp64_max_rel_diff"] = max(abs(out["grad_norms"][n] - fp64[n]) / fp64[n]
                                              for n in names if fp64[n] > 0)
    return out


def main():
    torch.set_num_threads(1)  # one reduction order: the file is the same on every machine with this torch
    torch.use_deterministic_algorithms(True)
    inputs, targets = tokens()
    fixture = {
        "description": "PyTorch reference of tiny fp32 models of the presets with deterministic weights "
                       "(tools/python_reference/make_fixture.py; models: tools/python_reference/models.py), "
                       "attention written out. Compare at 1e-5.",
        "generated_by": {"command": COMMAND, "torch": torch.__version__, "python": sys.version.split()[0]},
        "vocab_size": VOCAB,
        "batch_size": BATCH,
        "seq_len": SEQ,
        "config": CONFIG,
        "config_left_to_preset": ["model.router", "model.normalizer", "model.gate", "model.null_signal"],
        "weight_rule": WEIGHT_RULE,
        "token_rule": TOKEN_RULE,
        "inputs": inputs.tolist(),
        "targets": targets.tolist(),
        "logits_layout": {"shape": [BATCH, len(LOGIT_POSITIONS), LOGIT_VOCAB], "batch": list(range(BATCH)),
                          "positions": list(LOGIT_POSITIONS), "vocab": f"0..{LOGIT_VOCAB - 1}",
                          "index": "logits[b][j][v] = model logits[b, positions[j], v]"},
        "definitions": {
            "parameter_sums": "sum of the fp32 weights in float64, after the weight rule",
            "logits_sum": "sum of all B x T x vocab fp32 logits in float64",
            "loss": "mean token cross-entropy over the B x T targets (trainer.cpp lm_loss) at the rule's weights",
            "grad_norms": "float64 L2 norm of each parameter's fp32 gradient of `loss`, before clipping",
            "step_losses": "train.steps optimizer steps on the same batch from the rule's weights: the loss of each "
                           "step before its update (step_losses[0] == loss)",
            "step_grad_norms": "the global gradient norm of each step before clipping (clip_grad_norm_'s return, the "
                               "trainer's grad_norm)",
            "loss_after_steps": "the loss after the last update",
            "grad_norms_fp64_max_rel_diff": "max over parameters with a nonzero fp64 norm of |grad_norms - n64| / "
                                            "n64, n64 the gradient norm of the same model and fp32 weights run in "
                                            "float64 (weights, RoPE tables, logits, cross-entropy)",
        },
        "presets": {entry: reference(entry, inputs, targets) for entry in PRESETS},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT)} bytes)")
    for preset, r in fixture["presets"].items():
        print(f"  {preset:17s} params {r['parameter_count']:6d} loss {r['loss']:.6f} "
              f"steps {' '.join(f'{x:.6f}' for x in r['step_losses'])} | norms "
              f"{' '.join(f'{x:.3f}' for x in r['step_grad_norms'])} | fp64 rel "
              f"{r['grad_norms_fp64_max_rel_diff']:.2e}")


if __name__ == "__main__":
    main()
