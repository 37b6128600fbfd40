#!/usr/bin/env python3
"""Independent cross-check of the fixtures in this folder.

Re-implements the BERT forward pass, the three heads/losses, SGD/AdamW and the
vanilla / FreeLB / PGD / FreeAT steps with plain torch tensor ops (no HF model code,
no torch.optim), reading only the files in this folder, and compares with the stored
reference tensors. It doubles as an executable statement of the semantics in FIXTURES.md.

    python verify_fixtures.py FIXTURE_TREE   # exits non-zero on any mismatch
"""
import json
import math
import os
import sys

import torch
from safetensors.torch import load_file

HERE = sys.argv[1] if len(sys.argv) > 1 else "."  # the fixture tree to check
D = torch.float64
failures = []


def load_model(d):
    cfg = json.load(open(os.path.join(HERE, d, "config.json")))
    W = {k: v.to(D) for k, v in load_file(os.path.join(HERE, d, "model.safetensors")).items()}
    return cfg, W


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu(x):  # exact erf GELU ("gelu" in HF)
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def encoder(cfg, W, word_emb_out, tt, am, prefix="bert."):
    """word_emb_out: [B,S,H] = word_embeddings[input_ids] (+ delta for adversarial training)."""
    B, S, H = word_emb_out.shape
    nh = cfg["num_attention_heads"]
    dh = H // nh
    eps = cfg["layer_norm_eps"]
    p = lambda n: W[prefix + n]
    x = word_emb_out + p("embeddings.position_embeddings.weight")[:S] + p("embeddings.token_type_embeddings.weight")[tt]
    x = layer_norm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"), eps)
    neg = torch.finfo(D).min  # any value that makes exp() underflow to exactly 0 works
    add_mask = (1.0 - am.to(D))[:, None, None, :] * neg  # masks keys only
    for l in range(cfg["num_hidden_layers"]):
        L = lambda n: W[f"{prefix}encoder.layer.{l}.{n}"]
        lin = lambda t, n: t @ L(n + ".weight").T + L(n + ".bias")
        heads = lambda t: t.view(B, S, nh, dh).transpose(1, 2)
        q, k, v = heads(lin(x, "attention.self.query")), heads(lin(x, "attention.self.key")), heads(lin(x, "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh) + add_mask
        ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(B, S, H)
        x = layer_norm(lin(ctx, "attention.output.dense") + x, L("attention.output.LayerNorm.weight"),
                       L("attention.output.LayerNorm.bias"), eps)
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(lin(h, "output.dense") + x, L("output.LayerNorm.weight"), L("output.LayerNorm.bias"), eps)
    pooled = torch.tanh(x[:, 0] @ p("pooler.dense.weight").T + p("pooler.dense.bias"))
    return x, pooled


def head_loss(cfg, W, word_emb_out, batch):
    arch = cfg["architectures"][0]
    ids = torch.tensor(batch["input_ids"])
    tt = torch.tensor(batch["token_type_ids"])
    am = torch.tensor(batch["attention_mask"])
    if arch == "BertForMultipleChoice":
        Bc, C, S = ids.shape
        _, pooled = encoder(cfg, W, word_emb_out.reshape(Bc * C, S, -1), tt.reshape(-1, S), am.reshape(-1, S))
        logits = (pooled @ W["classifier.weight"].T + W["classifier.bias"]).view(Bc, C)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(batch["labels"]))
        return logits, loss
    _, pooled = encoder(cfg, W, word_emb_out, tt, am)
    logits = pooled @ W["classifier.weight"].T + W["classifier.bias"]
    if cfg["num_labels"] == 1:  # regression: MSE(logits.squeeze(), labels)
        loss = ((logits.squeeze(-1) - torch.tensor(batch["labels"], dtype=D)) ** 2).mean()
    else:  # mean cross entropy
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(batch["labels"]))
    return logits, loss


def word_emb(W, batch):
    return W["bert.embeddings.word_embeddings.weight"][torch.tensor(batch["input_ids"])]


def grads_of(loss, W, extra=()):
    names = list(W)
    gs = torch.autograd.grad(loss, [W[n] for n in names] + list(extra), allow_unused=True)
    out = {n: (g if g is not None else torch.zeros_like(W[n])) for n, g in zip(names, gs[:len(names)])}
    # nn.Embedding(padding_idx=pad_token_id): the padding row never receives gradient
    out["bert.embeddings.word_embeddings.weight"][0] = 0.0
    return out, gs[len(names):]


def check(name, got, ref, atol, rtol=0.0):
    got = got.detach().to(D)
    ref = ref.to(D)
    err = float((got - ref).abs().max()) if ref.numel() else 0.0
    lim = atol + rtol * float(ref.abs().max())
    if not err <= lim:
        failures.append(f"{name}: max abs err {err:.3e} > {lim:.3e}")


def leaf(W):
    return {k: v.detach().clone().requires_grad_(True) for k, v in W.items()}


# ---------------------------------------------------------------- forward / backward fixtures
for d in ["tiny-bert", "tiny-bert-regression", "tiny-bert-multiple-choice"]:
    cfg, W0 = load_model(d)
    batch = json.load(open(os.path.join(HERE, d, "batch.json")))
    ref = load_file(os.path.join(HERE, d, "forward_backward.safetensors"))
    W = leaf(W0)
    e = word_emb(W, batch)
    logits, loss = head_loss(cfg, W, e, batch)
    g, (ge,) = grads_of(loss, W, [e])
    check(f"{d}/logits", logits, ref["logits"], 1e-6, 1e-6)
    check(f"{d}/loss", loss.reshape(1), ref["loss"], 1e-6, 1e-6)
    check(f"{d}/grad.word_embedding_output", ge, ref["grad.word_embedding_output"], 1e-7, 1e-6)
    for n in W:
        check(f"{d}/grad.{n}", g[n], ref[f"grad.{n}"], 1e-7, 1e-6)

# ---------------------------------------------------------------- training steps
cfg, W0 = load_model("tiny-bert")
batch = json.load(open(os.path.join(HERE, "tiny-bert", "batch.json")))
idx = json.load(open(os.path.join(HERE, "tiny-bert", "train_steps", "index.json")))
delta0 = load_file(os.path.join(HERE, "tiny-bert", "train_steps", "delta_init.safetensors"))["delta_init"].to(D)
K, ALR = idx["K"], idx["adv_lr"]
NO_DECAY = idx["adamw"]["no_decay_substrings"]


class SGD:
    def __init__(self, lr):
        self.lr = lr

    def step(self, W, g):
        return {n: W[n] - self.lr * g[n] for n in W}


class AdamW:
    def __init__(self, lr, betas, eps, weight_decay):
        self.lr, (self.b1, self.b2), self.eps, self.wd = lr, betas, eps, weight_decay
        self.t, self.m, self.v = 0, {}, {}

    def step(self, W, g):
        self.t += 1
        out = {}
        for n in W:
            wd = 0.0 if any(s in n for s in NO_DECAY) else self.wd
            p = W[n] * (1 - self.lr * wd)  # decoupled decay first (torch.optim.AdamW order)
            self.m[n] = self.b1 * self.m.get(n, 0) + (1 - self.b1) * g[n]
            self.v[n] = self.b2 * self.v.get(n, 0) + (1 - self.b2) * g[n] * g[n]
            bc1, bc2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
            out[n] = p - (self.lr / bc1) * self.m[n] / (self.v[n].sqrt() / math.sqrt(bc2) + self.eps)
        return out


def make_opt(name):
    a = idx["adamw"]
    return SGD(idx["sgd"]["lr"]) if name == "sgd" else AdamW(a["lr"], a["betas"], a["eps"], a["weight_decay"])


def ascent(delta, g, kind, max_norm):
    B = delta.shape[0]
    if kind == "l2":
        d = delta + ALR * g / g.reshape(B, -1).norm(dim=1).clamp(min=1e-8).view(-1, 1, 1)
        if max_norm > 0:
            n = d.reshape(B, -1).norm(dim=1).view(-1, 1, 1)
            d = torch.where(n > max_norm, d * (max_norm / n), d)
        return d
    if kind == "linf_sign":
        d = delta + ALR * torch.sign(g)
    else:  # linf_maxnorm (official code's "linf")
        d = delta + ALR * g / g.reshape(B, -1).abs().max(dim=1).values.clamp(min=1e-8).view(-1, 1, 1)
    return d.clamp(-max_norm, max_norm) if max_norm > 0 else d


def loss_at(W, delta):
    return head_loss(cfg, W, word_emb(W, batch) + delta, batch)[1]


def run(method, opt_name):
    opt = make_opt(opt_name)
    W = leaf(W0)
    rec = {} if method == "vanilla" else {"delta.0": delta0}
    if method == "vanilla":
        loss = loss_at(W, 0.0)
        g, _ = grads_of(loss, W)
        rec.update({f"grad.{n}": g[n] for n in g})
        return opt.step(W, g), rec
    if method.startswith("freelb"):
        kind = {"freelb_l2": "l2", "freelb_l2_noproj": "l2", "freelb_linf_sign": "linf_sign",
                "freelb_linf_maxnorm": "linf_maxnorm"}[method]
        mx = {"freelb_l2": idx["adv_max_norm_l2"], "freelb_l2_noproj": 0.0}.get(method, idx["adv_max_norm_linf"])
        acc = {n: torch.zeros_like(W[n]) for n in W}
        delta = delta0.clone()
        for t in range(K):
            delta.requires_grad_(True)
            g, (gd,) = grads_of(loss_at(W, delta) / K, W, [delta])
            acc = {n: acc[n] + g[n] for n in W}
            delta = ascent(delta.detach(), gd, kind, mx)
            rec[f"delta.{t + 1}"] = delta
        rec.update({f"grad.{n}": acc[n] for n in acc})
        return opt.step(W, acc), rec
    if method == "pgd_l2":
        delta = delta0.clone()
        for t in range(K):
            delta.requires_grad_(True)
            (gd,) = torch.autograd.grad(loss_at(W, delta), [delta])
            delta = ascent(delta.detach(), gd, "l2", idx["adv_max_norm_l2"])
            rec[f"delta.{t + 1}"] = delta
        g, _ = grads_of(loss_at(W, delta), W)
        rec.update({f"grad.{n}": g[n] for n in g})
        return opt.step(W, g), rec
    if method == "freeat_l2":
        delta = delta0.clone()
        for t in range(K):
            delta.requires_grad_(True)
            g, (gd,) = grads_of(loss_at(W, delta), W, [delta])
            rec.update({f"grad.replay{t}.{n}": g[n] for n in g})
            W = leaf(opt.step(W, g))
            delta = ascent(delta.detach(), gd, "l2", idx["adv_max_norm_l2"])
            rec[f"delta.{t + 1}"] = delta
        return W, rec
    raise ValueError(method)


for fname, info in idx["files"].items():
    ref = load_file(os.path.join(HERE, "tiny-bert", "train_steps", fname))
    W1, rec = run(info["method"], info["optimizer"])
    for n in W1:
        # key.bias has an analytically zero gradient; under AdamW its update is m/(sqrt(v)+eps)
        # of round-off noise, so only a loose absolute check is meaningful there.
        loose = info["optimizer"] == "adamw" and n.endswith("attention.self.key.bias")
        check(f"{fname}/param.{n}", W1[n], ref[f"param.{n}"], 2e-3 if loose else 1e-6, 1e-6)
    for k, v in rec.items():
        check(f"{fname}/{k}", v, ref[k], 1e-6, 1e-6)

# ---------------------------------------------------------------- tokenizer file sanity
tk = json.load(open(os.path.join(HERE, "tokenizer", "minilm_tokenizer_cases.json")))
vocab = [l.rstrip("\n") for l in open(os.path.join(HERE, "minilm", "vocab.txt"), encoding="utf-8")]
for c in tk["cases"]:
    if [vocab[i] for i in c["input_ids"]] != c["tokens"] or len(c["input_ids"]) > tk["max_length"]:
        failures.append(f"tokenizer case {c['index']} inconsistent with vocab.txt")

print("\n".join(failures) if failures else "all fixture checks passed")
sys.exit(1 if failures else 0)
