"""The `standard` preset's training step written in Python PyTorch, to time against `oasis bench` on the
same machine (ours must not be slower). Same model as framework/model (pre-norm RMSNorm, rotate-half RoPE,
SwiGLU with hidden 8/3 d rounded up to 64, attention written out with a causal mask and softmax, no
biases, tied embeddings), same step (cross-entropy, backward, global-norm clip 1.0, AdamW with decay on
matrices only), same size as configs/bench/cpu.yaml. Tokens are random: the step time does not depend on
them.

usage: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tools/python_reference/standard_step.py [--threads 2]
       [--steps 20] [--warmup 3] [--d-model 256] [--layers 6] [--heads 4] [--seq 256] [--batch 8] [--vocab 4096]
(`oasis` sets OPENBLAS_CORETYPE itself when OpenBLAS picks slow kernels; set it here for a fair comparison.)
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        inv = torch.rsqrt(torch.linalg.vector_norm(x, 2, dim=-1, keepdim=True).square() / x.shape[-1] + self.eps)
        return x * inv * self.weight


def rotary_tables(head_dim, seq, theta=10000.0):
    half = head_dim // 2
    inv_freq = theta ** (-torch.arange(0, half, dtype=torch.float64) / half)
    angles = torch.outer(torch.arange(seq, dtype=torch.float64), inv_freq)
    return angles.cos().float(), angles.sin().float()


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.heads = heads
        self.attn_norm, self.mlp_norm = RMSNorm(d), RMSNorm(d)
        self.wqkv = torch.nn.Linear(d, 3 * d, bias=False)
        self.wo = torch.nn.Linear(d, d, bias=False)
        self.w_gate = torch.nn.Linear(d, hidden, bias=False)
        self.w_up = torch.nn.Linear(d, hidden, bias=False)
        self.w_down = torch.nn.Linear(hidden, d, bias=False)

    def forward(self, x, cos, sin, future):
        B, T, C = x.shape
        qkv = self.wqkv(self.attn_norm(x)).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = rotate(qkv[0], cos, sin), rotate(qkv[1], cos, sin), qkv[2]
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.heads))
        probs = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        x = x + self.wo((probs @ v).transpose(1, 2).reshape(B, T, C))
        h = self.mlp_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Standard(torch.nn.Module):
    def __init__(self, vocab, d, layers, heads, seq):
        super().__init__()
        hidden = ((8 * d + 2) // 3 + 63) // 64 * 64
        self.embed = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, hidden) for _ in range(layers))
        self.final_norm = RMSNorm(d)
        self.cos, self.sin = rotary_tables(d // heads, seq)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                residual_out = name.endswith("wo.weight") or name.endswith("w_down.weight")
                torch.nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers) if residual_out else 0.02)

    def forward(self, tokens):
        T = tokens.shape[1]
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, self.cos[:T], self.sin[:T], future)
        return F.linear(self.final_norm(x), self.embed.weight)  # tied LM head


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in [("threads", 2), ("steps", 20), ("warmup", 3), ("d-model", 256), ("layers", 6), ("heads", 4),
                          ("seq", 256), ("batch", 8), ("vocab", 4096)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Standard(a.vocab, a.d_model, a.layers, a.heads, a.seq)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("embed")]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and not n.startswith("embed"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                                  lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    times = []
    for step in range(a.warmup + a.steps):
        tokens = torch.randint(0, a.vocab, (a.batch, a.seq + 1))
        t0 = time.perf_counter()
        optimizer.zero_grad()
        logits = model(tokens[:, :-1])
        F.cross_entropy(logits.reshape(-1, a.vocab), tokens[:, 1:].reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step >= a.warmup:
            times.append(1000 * (time.perf_counter() - t0))
    ms = statistics.median(times)
    params = sum(p.numel() for p in model.parameters())
    print(f"python torch {torch.__version__} | standard | parameters {params} | threads {a.threads} | "
          f"median step {ms:.1f} ms | {a.batch * a.seq / (ms / 1000):.0f} tokens/s")


if __name__ == "__main__":
    main()
