#!/usr/bin/env python3
"""Independent cross-check of the fixtures written by gen_fixtures_more.py.

Re-implements, with plain torch tensor ops (no HF model code, no torch.optim, no `tokenizers`):
  * the BERT / RoBERTa / ALBERT encoders and their heads (classification, regression, multiple choice),
  * SGD / AdamW and the vanilla / FreeLB / PGD / FreeAT steps (per-file hyper-parameters),
  * a byte-level BPE tokenizer (GPT-2 byte map + regex, merges.txt ranks, added tokens with lstrip,
    RoBERTa template, Rust-style longest_first truncation, ByteLevel decoding),
reads only the files in this folder and compares with the stored values. Like verify_fixtures.py it is
also an executable statement of the semantics in FIXTURES.md. The functions are importable (the hidden
holdout verifier reuses them).

    python verify_fixtures_more.py [DIR]    # DIR defaults to this folder; exits non-zero on any mismatch
"""
import json
import math
import os
import sys

import torch
from safetensors.torch import load_file

HERE = "."  # default fixture tree: the current folder
D = torch.float64
failures = []


# ---------------------------------------------------------------------------------------- models

def load_model(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    W = {k: v.to(D) for k, v in load_file(os.path.join(d, "model.safetensors")).items()}
    return cfg, W


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance
    return (x - mu) / torch.sqrt(var + eps) * w + b


def act(name, x):
    if name == "gelu":  # exact erf GELU
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "gelu_new":  # tanh approximation (ALBERT, GPT-2)
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "relu":
        return torch.relu(x)
    raise ValueError(name)


def prefix_of(cfg):
    return cfg["model_type"] + "."  # bert. / roberta. / albert.


def position_ids(cfg, ids):
    if cfg["model_type"] == "roberta":  # fairseq make_positions: pad+1, pad+2, ... skipping pads
        pad = cfg["pad_token_id"]
        m = (ids != pad).long()
        return torch.cumsum(m, -1) * m + pad
    return torch.arange(ids.shape[-1]).expand_as(ids)


def layer_names(cfg, l):
    """Parameter-name prefixes of the transformer layer(s) applied at depth l."""
    p = prefix_of(cfg)
    if cfg["model_type"] == "albert":
        g = int(l / (cfg["num_hidden_layers"] / cfg["num_hidden_groups"]))  # shared weights
        out = []
        for i in range(cfg["inner_group_num"]):
            q = f"{p}encoder.albert_layer_groups.{g}.albert_layers.{i}."
            out.append(dict(q=q + "attention.query", k=q + "attention.key", v=q + "attention.value",
                            o=q + "attention.dense", ln1=q + "attention.LayerNorm", fi=q + "ffn",
                            fo=q + "ffn_output", ln2=q + "full_layer_layer_norm"))
        return out
    q = f"{p}encoder.layer.{l}."
    return [dict(q=q + "attention.self.query", k=q + "attention.self.key", v=q + "attention.self.value",
                 o=q + "attention.output.dense", ln1=q + "attention.output.LayerNorm", fi=q + "intermediate.dense",
                 fo=q + "output.dense", ln2=q + "output.LayerNorm")]


def encoder(cfg, W, word_emb_out, ids, tt, am):
    """word_emb_out: [N,S,E] = word_embeddings[ids] (+ delta). Returns a dict of intermediate tensors."""
    N, S, _ = word_emb_out.shape
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    dh = H // nh
    p = prefix_of(cfg)
    lin = lambda t, n: t @ W[n + ".weight"].T + W[n + ".bias"]
    x = word_emb_out + W[p + "embeddings.position_embeddings.weight"][position_ids(cfg, ids)] \
        + W[p + "embeddings.token_type_embeddings.weight"][tt]
    x = layer_norm(x, W[p + "embeddings.LayerNorm.weight"], W[p + "embeddings.LayerNorm.bias"], eps)
    out = {"embedding_output": x}
    if cfg["model_type"] == "albert":
        x = lin(x, p + "encoder.embedding_hidden_mapping_in")  # E -> H
    hs, atts = [x], []
    add_mask = (1.0 - am.to(D))[:, None, None, :] * torch.finfo(D).min  # masks keys only
    heads = lambda t: t.view(N, S, nh, dh).transpose(1, 2)
    for l in range(cfg["num_hidden_layers"]):
        for L in layer_names(cfg, l):
            q, k, v = heads(lin(x, L["q"])), heads(lin(x, L["k"])), heads(lin(x, L["v"]))
            prob = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + add_mask, -1)
            atts.append(prob)
            ctx = (prob @ v).transpose(1, 2).reshape(N, S, H)
            x = layer_norm(lin(ctx, L["o"]) + x, W[L["ln1"] + ".weight"], W[L["ln1"] + ".bias"], eps)
            h = act(cfg["hidden_act"], lin(x, L["fi"]))
            x = layer_norm(lin(h, L["fo"]) + x, W[L["ln2"] + ".weight"], W[L["ln2"] + ".bias"], eps)
            hs.append(x)
    out.update(hidden_states=hs, attentions=atts, last=x)
    return out


def head_loss(cfg, W, word_emb_out, batch):
    """Returns (logits, loss, encoder extras)."""
    arch = cfg["architectures"][0]
    ids = torch.tensor(batch["input_ids"])
    tt = torch.tensor(batch["token_type_ids"])
    am = torch.tensor(batch["attention_mask"])
    mc = arch.endswith("ForMultipleChoice")
    if mc:  # [B,C,S] -> [B*C,S]
        B, C, S = ids.shape
        word_emb_out, ids, tt, am = word_emb_out.reshape(B * C, S, -1), ids.reshape(-1, S), tt.reshape(-1, S), am.reshape(-1, S)
    enc = encoder(cfg, W, word_emb_out, ids, tt, am)
    x0 = enc["last"][:, 0]  # [CLS] / <s>
    lin = lambda t, n: t @ W[n + ".weight"].T + W[n + ".bias"]
    if cfg["model_type"] == "roberta":  # RobertaClassificationHead: dense -> tanh -> out_proj
        enc["classifier_dense_tanh_output"] = torch.tanh(lin(x0, "classifier.dense"))
        logits = lin(enc["classifier_dense_tanh_output"], "classifier.out_proj")
    else:
        pooler = "bert.pooler.dense" if cfg["model_type"] == "bert" else "albert.pooler"
        enc["pooler_output"] = torch.tanh(lin(x0, pooler))
        logits = lin(enc["pooler_output"], "classifier")
    if mc:
        logits = logits.view(B, C)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(batch["labels"]))
    elif cfg["num_labels"] == 1:  # regression: MSE(logits.squeeze(), labels)
        loss = ((logits.squeeze(-1) - torch.tensor(batch["labels"], dtype=D)) ** 2).mean()
    else:
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(batch["labels"]))
    return logits, loss, enc


def word_emb(cfg, W, batch):
    return W[prefix_of(cfg) + "embeddings.word_embeddings.weight"][torch.tensor(batch["input_ids"])]


def grads_of(cfg, loss, W, extra=()):
    names = list(W)
    gs = torch.autograd.grad(loss, [W[n] for n in names] + list(extra), allow_unused=True)
    out = {n: (g if g is not None else torch.zeros_like(W[n])) for n, g in zip(names, gs[:len(names)])}
    # nn.Embedding(padding_idx=pad): the padding row never receives gradient (RoBERTa: also positions)
    p, pad = prefix_of(cfg), cfg["pad_token_id"]
    out[p + "embeddings.word_embeddings.weight"][pad] = 0.0
    if cfg["model_type"] == "roberta":
        out[p + "embeddings.position_embeddings.weight"][pad] = 0.0
    return out, gs[len(names):]


def check(name, got, ref, atol, rtol=0.0):
    got = got.detach().to(D)
    ref = ref.to(D)
    if tuple(got.shape) != tuple(ref.shape):
        failures.append(f"{name}: shape {tuple(got.shape)} != {tuple(ref.shape)}")
        return
    err = float((got - ref).abs().max()) if ref.numel() else 0.0
    lim = atol + rtol * float(ref.abs().max())
    if not err <= lim:
        failures.append(f"{name}: max abs err {err:.3e} > {lim:.3e}")


def leaf(W):
    return {k: v.detach().clone().requires_grad_(True) for k, v in W.items()}


def check_forward_backward(d, label, full=True):
    """Compares every tensor in <d>/forward_backward.safetensors. full: the file must hold the
    gradient of every parameter (the hidden holdout stores a documented subset for size)."""
    cfg, W0 = load_model(d)
    batch = json.load(open(os.path.join(d, "batch.json")))
    ref = load_file(os.path.join(d, "forward_backward.safetensors"))
    W = leaf(W0)
    e = word_emb(cfg, W, batch)
    logits, loss, enc = head_loss(cfg, W, e, batch)
    g, (ge,) = grads_of(cfg, loss, W, [e])
    got = {"logits": logits, "loss": loss.reshape(1), "word_embedding_output": e, "grad.word_embedding_output": ge}
    got.update({f"grad.{n}": g[n] for n in W})
    got.update({f"hidden_states.{i}": h for i, h in enumerate(enc["hidden_states"])})
    got.update({f"attentions.{i}": a for i, a in enumerate(enc["attentions"])})
    for k in ["embedding_output", "pooler_output", "classifier_dense_tanh_output"]:
        if k in enc:
            got[k] = enc[k]
    if cfg["model_type"] != "albert":
        got.pop("embedding_output")  # == hidden_states.0 for BERT/RoBERTa
    for k in ref:
        if k not in got:
            failures.append(f"{label}/{k}: no independent value computed")
            continue
        atol = 1e-7 if k.startswith("grad.") else 1e-6
        check(f"{label}/{k}", got[k], ref[k], atol, 1e-6)
    for k in ["logits", "loss", "word_embedding_output", "grad.word_embedding_output"]:
        if k not in ref:
            failures.append(f"{label}: {k} missing")
    n_params = sum(1 for k in ref if k.startswith("grad.") and k != "grad.word_embedding_output")
    if full and n_params != len(W):
        failures.append(f"{label}: {n_params} parameter grads stored, model has {len(W)}")
    return cfg, W0, batch, ref


# ---------------------------------------------------------------------------------------- training

class SGD:
    def __init__(self, spec):
        self.lr = spec["lr"]

    def step(self, W, g):
        return {n: W[n] - self.lr * g[n] for n in W}


class AdamW:
    NO_DECAY = ["bias", "LayerNorm.weight"]  # HF run_glue grouping (substring match)

    def __init__(self, spec):
        self.lr, (self.b1, self.b2), self.eps, self.wd = spec["lr"], spec["betas"], spec["eps"], spec["weight_decay"]
        self.t, self.m, self.v = 0, {}, {}

    def step(self, W, g):
        self.t += 1
        out = {}
        for n in W:
            wd = 0.0 if any(s in n for s in self.NO_DECAY) else self.wd
            p = W[n] * (1 - self.lr * wd)  # decoupled decay first (torch.optim.AdamW order)
            self.m[n] = self.b1 * self.m.get(n, 0) + (1 - self.b1) * g[n]
            self.v[n] = self.b2 * self.v.get(n, 0) + (1 - self.b2) * g[n] * g[n]
            bc1, bc2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
            out[n] = p - (self.lr / bc1) * self.m[n] / (self.v[n].sqrt() / math.sqrt(bc2) + self.eps)
        return out


def make_opt(spec):
    return SGD(spec) if spec["name"] == "sgd" else AdamW(spec)


def ascent(delta, g, kind, lr, max_norm):
    """One norm per leading index over all remaining dims: per example for [B,S,E];
    per QUESTION (jointly over its C choices) for multiple-choice [B,C,S,E]."""
    N = delta.shape[0]
    bs = (-1,) + (1,) * (delta.dim() - 1)
    if kind == "l2":
        d = delta + lr * g / g.reshape(N, -1).norm(dim=1).clamp(min=1e-8).view(bs)
        if max_norm > 0:
            n = d.reshape(N, -1).norm(dim=1).view(bs)
            d = torch.where(n > max_norm, d * (max_norm / n), d)
        return d
    if kind == "linf_sign":
        d = delta + lr * torch.sign(g)
    else:  # linf_maxnorm (official code's "linf")
        d = delta + lr * g / g.reshape(N, -1).abs().max(dim=1).values.clamp(min=1e-8).view(bs)
    return d.clamp(-max_norm, max_norm) if max_norm > 0 else d


def run_method(cfg, W0, batch, delta0, method, hp):
    """Returns (params after the step, recorded tensors) for one method with hyper-parameters hp."""
    opt = make_opt(hp["optimizer"])
    K, lr, mx = hp.get("K"), hp.get("adv_lr"), hp.get("adv_max_norm")
    W = leaf(W0)
    loss_at = lambda W, delta: head_loss(cfg, W, word_emb(cfg, W, batch) + delta, batch)[1]
    rec = {} if method == "vanilla" else {"delta.0": delta0}
    if method == "vanilla":
        g, _ = grads_of(cfg, loss_at(W, 0.0), W)
        rec.update({f"grad.{n}": g[n] for n in g})
        return opt.step(W, g), rec
    if method.startswith("freelb"):
        kind = {"freelb_l2": "l2", "freelb_l2_noproj": "l2", "freelb_linf_sign": "linf_sign",
                "freelb_linf_maxnorm": "linf_maxnorm"}[method]
        acc = {n: torch.zeros_like(W[n]) for n in W}
        delta = delta0.clone()
        for t in range(K):
            delta.requires_grad_(True)
            loss = loss_at(W, delta)
            rec[f"loss.{t}"] = loss.reshape(1)
            g, (gd,) = grads_of(cfg, loss / K, W, [delta])
            rec[f"delta_grad.{t}"] = gd
            acc = {n: acc[n] + g[n] for n in W}
            delta = ascent(delta.detach(), gd, kind, lr, mx)
            rec[f"delta.{t + 1}"] = delta
        rec.update({f"grad.{n}": acc[n] for n in acc})
        return opt.step(W, acc), rec
    if method == "pgd_l2":
        delta = delta0.clone()
        for t in range(K):
            delta.requires_grad_(True)
            loss = loss_at(W, delta)
            rec[f"loss.{t}"] = loss.reshape(1)
            (gd,) = torch.autograd.grad(loss, [delta])
            rec[f"delta_grad.{t}"] = gd
            delta = ascent(delta.detach(), gd, "l2", lr, mx)
            rec[f"delta.{t + 1}"] = delta
        loss = loss_at(W, delta)
        rec[f"loss.{K}"] = loss.reshape(1)
        g, _ = grads_of(cfg, loss, W)
        rec.update({f"grad.{n}": g[n] for n in g})
        return opt.step(W, g), rec
    if method == "freeat_l2":
        delta = delta0.clone()
        for t in range(K):
            delta.requires_grad_(True)
            loss = loss_at(W, delta)
            rec[f"loss.{t}"] = loss.reshape(1)
            g, (gd,) = grads_of(cfg, loss, W, [delta])
            rec[f"delta_grad.{t}"] = gd
            rec.update({f"grad.replay{t}.{n}": g[n] for n in g})
            W = leaf(opt.step(W, g))
            if t < K - 1:
                rec.update({f"param_after_replay{t}.{n}": W[n] for n in W})
            delta = ascent(delta.detach(), gd, "l2", lr, mx)
            rec[f"delta.{t + 1}"] = delta
        return W, rec
    raise ValueError(method)


def check_train_steps(model_dir, steps_dir, label, full=True):
    """Every file listed in <steps_dir>/index.json (per-file "hparams" and "delta_init"). full: the
    files must hold every recorded tensor (the hidden holdout stores a documented subset for size)."""
    cfg, W0 = load_model(model_dir)
    batch = json.load(open(os.path.join(model_dir, "batch.json")))
    idx = json.load(open(os.path.join(steps_dir, "index.json")))
    inits = {k: v.to(D) for k, v in load_file(os.path.join(steps_dir, "delta_init.safetensors")).items()}
    mask = torch.tensor(batch["attention_mask"]).bool()
    for k, v in inits.items():
        if float(v[~mask].abs().max()) != 0.0:
            failures.append(f"{label}/{k}: nonzero on padding positions")
    for fname, info in idx["files"].items():
        ref = load_file(os.path.join(steps_dir, fname))
        W1, rec = run_method(cfg, W0, batch, inits[info["delta_init"]], info["method"], info["hparams"])
        rec.update({f"param.{n}": W1[n] for n in W1})
        adamw = info["optimizer"] == "adamw"
        mc = cfg["architectures"][0].endswith("MultipleChoice")
        for k in ref:
            if k not in rec:
                failures.append(f"{label}/{fname}/{k}: no independent value computed")
                continue
            # key.bias (and the MC classifier.bias) have analytically zero gradients; under AdamW their
            # update is m/(sqrt(v)+eps) of round-off noise: only a loose absolute check is meaningful.
            loose = adamw and k.startswith(("param.", "param_after_replay")) and (
                k.endswith(("attention.self.key.bias", "attention.key.bias")) or (mc and k.endswith(".classifier.bias")))
            check(f"{label}/{fname}/{k}", rec[k], ref[k], 2e-3 if loose else 1e-6, 1e-6)
        essential = [k for k in rec if k.startswith(("loss.", "delta.", "delta_grad."))]
        if full:
            essential = list(rec)
        missing = [k for k in essential if k not in ref]
        if missing:
            failures.append(f"{label}/{fname}: tensors missing from the file: {sorted(missing)[:5]}")
        if any(float(v[~mask].abs().max()) != 0.0 for k, v in ref.items() if k.startswith("delta.")):
            failures.append(f"{label}/{fname}: delta nonzero on padding positions")


# ---------------------------------------------------------------------------------------- byte-level BPE

class ByteLevelBPE:
    """Pure-Python reading of tokenizer-bpe/ (vocab.json, merges.txt; added tokens from tokenizer.json)."""
    # Unicode White_Space (Rust char::is_whitespace), used by the lstrip rule of added tokens
    WS = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200b)}

    def __init__(self, d):
        import regex
        self.vocab = json.load(open(os.path.join(d, "vocab.json"), encoding="utf-8"))
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        lines = open(os.path.join(d, "merges.txt"), encoding="utf-8").read().split("\n")
        assert lines[0].startswith("#version")
        self.merges = [tuple(l.split(" ")) for l in lines[1:] if l]
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        tj = json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))
        self.added = {a["content"]: a for a in tj["added_tokens"]}
        self.special_ids = {a["id"] for a in tj["added_tokens"] if a["special"]}
        self.tokenizer_json = tj
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
        cs, n = bs[:], 0
        for b in range(256):  # GPT-2 bytes_to_unicode
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        self.byte_to_char = {b: chr(c) for b, c in zip(bs, cs)}
        self.char_to_byte = {v: k for k, v in self.byte_to_char.items()}
        self.pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def split_added(self, text):
        """[(is_added, piece)]: leftmost-longest matches of added-token contents; an lstrip token
        also takes the whitespace before it (not reaching into the previous match)."""
        out, pos, prev_end = [], 0, 0
        while pos < len(text):
            best = None
            for c in self.added:
                if text.startswith(c, pos) and (best is None or len(c) > len(best)):
                    best = c
            if best is None:
                pos += 1
                continue
            start = pos
            if self.added[best]["lstrip"]:
                while start > prev_end and text[start - 1] in self.WS:
                    start -= 1
            if start > prev_end:
                out.append((False, text[prev_end:start]))
            out.append((True, best))
            pos = prev_end = pos + len(best)
        if prev_end < len(text):
            out.append((False, text[prev_end:]))
        return out

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), math.inf), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            r, i = min(pairs)
            if r == math.inf:
                break
            a, b = parts[i], parts[i + 1]
            merged, j = [], 0
            while j < len(parts):  # merge every occurrence of the best pair, left to right
                if j < len(parts) - 1 and parts[j] == a and parts[j + 1] == b:
                    merged.append(a + b)
                    j += 2
                else:
                    merged.append(parts[j])
                    j += 1
            parts = merged
        return parts

    def encode_raw(self, text):
        ids = []
        for is_added, piece in self.split_added(text):
            if is_added:
                ids.append(self.added[piece]["id"])
                continue
            for w in self.pat.findall(piece):
                chars = "".join(self.byte_to_char[b] for b in w.encode("utf-8"))
                ids.extend(self.vocab[t] for t in self.bpe(chars))
        return ids

    @staticmethod
    def truncate_pair(n_a, n_b, budget):
        """tokenizers (Rust) longest_first for a pair; returns the kept lengths."""
        if n_a + n_b <= budget:
            return n_a, n_b
        swap = n_a > n_b
        n1, n2 = (n_b, n_a) if swap else (n_a, n_b)
        n2 = n1 if n1 > budget else max(n1, budget - n1)
        if n1 + n2 > budget:
            n1 = budget // 2
            n2 = n1 + budget % 2
        return (n2, n1) if swap else (n1, n2)

    def encode(self, text, pair=None, max_length=None):
        a = self.encode_raw(text)
        if pair is None:
            if max_length is not None:
                a = a[:max_length - 2]
            return [0] + a + [2]
        b = self.encode_raw(pair)
        if max_length is not None:
            na, nb = self.truncate_pair(len(a), len(b), max_length - 4)
            a, b = a[:na], b[:nb]
        return [0] + a + [2, 2] + b + [2]  # <s> A </s></s> B </s>

    def decode(self, ids, skip_special_tokens):
        toks = [self.id_to_token[i] for i in ids if not (skip_special_tokens and i in self.special_ids)]
        data = bytes(self.char_to_byte[c] for t in toks for c in t)
        return data.decode("utf-8", errors="replace")  # one U+FFFD per maximal invalid subpart (as Rust)


def check_bpe(d):
    tok = ByteLevelBPE(d)
    tj = tok.tokenizer_json
    cases = json.load(open(os.path.join(d, "bpe_tokenizer_cases.json"), encoding="utf-8"))
    # tokenizer.json, vocab.json and merges.txt describe the same BPE
    if tj["model"]["vocab"] != tok.vocab:
        failures.append("tokenizer-bpe: tokenizer.json vocab != vocab.json")
    if [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in tj["model"]["merges"]] != tok.merges:
        failures.append("tokenizer-bpe: tokenizer.json merges != merges.txt")
    if len(tok.vocab) != cases["vocab_size"] or sorted(tok.vocab.values()) != list(range(len(tok.vocab))):
        failures.append("tokenizer-bpe: vocab ids are not 0..vocab_size-1")
    for s, i in cases["special_ids"].items():
        if tok.added[s]["id"] != i or tok.vocab.get(s) != i:
            failures.append(f"tokenizer-bpe: special {s} != {i}")
    for c in cases["cases"]:
        tag = f"tokenizer-bpe case {c['index']}"
        if c["kind"] == "roundtrip":
            ids = tok.encode_raw(c["text"])
            if ids != c["input_ids"]:
                failures.append(f"{tag}: ids differ")
            if tok.decode(ids, False) != c["text"] or c["decoded"] != c["text"]:
                failures.append(f"{tag}: decode(encode(text)) != text")
            continue
        ids = tok.encode(c["text"], c["text_pair"], cases["max_length"])
        # tokens: vocabulary strings, except that an added token shows the text it matched
        for i, t in zip(c["input_ids"], c["tokens"]):
            content = tok.id_to_token[i]
            if t != content and not (content in tok.added and tok.added[content]["lstrip"] and t.lstrip() == content):
                failures.append(f"{tag}: token {t!r} for id {i}")
        if ids != c["input_ids"]:
            failures.append(f"{tag}: ids {ids} != {c['input_ids']}")
        full = tok.encode(c["text"], c["text_pair"])
        if full != c["untruncated_input_ids"]:
            failures.append(f"{tag}: untruncated ids differ")
        if c["attention_mask"] != [1] * len(ids) or c["type_ids"] != [0] * len(ids) or len(ids) > cases["max_length"]:
            failures.append(f"{tag}: mask/type ids/length")
        if tok.decode(ids, True) != c["decoded"] or tok.decode(ids, False) != c["decoded_with_special_tokens"]:
            failures.append(f"{tag}: decoded text differs")
    ob = cases["odd_budget_pairs"]
    for i, c in enumerate(ob["cases"]):
        if tok.encode(c["text"], c["text_pair"], ob["max_length"]) != c["input_ids"]:
            failures.append(f"tokenizer-bpe odd_budget_pairs {i}: ids differ")
    pb = cases["padded_batch"]
    encs = [tok.encode(t, None, cases["max_length"]) for t in pb["texts"]]
    T = max(map(len, encs))
    if pb["input_ids"] != [e + [1] * (T - len(e)) for e in encs] or \
            pb["attention_mask"] != [[1] * len(e) + [0] * (T - len(e)) for e in encs]:
        failures.append("tokenizer-bpe: padded batch differs")
    return tok


# ---------------------------------------------------------------------------------------- main

def main(root=HERE):
    tok = check_bpe(os.path.join(root, "tokenizer-bpe"))

    d = os.path.join(root, "tiny-roberta")
    cfg, W0, batch, _ = check_forward_backward(d, "tiny-roberta")
    if cfg["vocab_size"] != len(tok.vocab):
        failures.append("tiny-roberta: vocab_size != tokenizer-bpe vocab size")
    T = len(batch["input_ids"][0])
    for texts, ids, am in zip(batch["texts"], batch["input_ids"], batch["attention_mask"]):
        e = tok.encode(texts[0], texts[1] if len(texts) > 1 else None, T)
        if ids != e + [1] * (T - len(e)) or am != [1] * len(e) + [0] * (T - len(e)):
            failures.append(f"tiny-roberta: batch row {texts} is not the tokenizer-bpe encoding")
    if batch["position_ids"] != position_ids(cfg, torch.tensor(batch["input_ids"])).tolist():
        failures.append("tiny-roberta: batch.json position_ids")
    check_train_steps(d, os.path.join(d, "train_steps"), "tiny-roberta/train_steps")

    cfg, W0, batch, ref = check_forward_backward(os.path.join(root, "tiny-albert"), "tiny-albert")
    if tuple(ref["word_embedding_output"].shape) != (3, 12, cfg["embedding_size"]):
        failures.append("tiny-albert: word_embedding_output is not embedding_size wide")

    print("\n".join(failures) if failures else "all additional fixture checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else HERE))  # optional: another output folder
