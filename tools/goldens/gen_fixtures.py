#!/usr/bin/env python3
"""Golden-fixture generator: PyTorch + HuggingFace transformers reference for the
Swift BERT / autodiff / FreeLB project.

Run from anywhere:
    python gen_fixtures.py --minilm-dir <dir with config.json, model.safetensors, vocab.txt, tokenizer.json>
    --out <folder>   (a fixture tree; tools/goldens/install.py maps it into Tests/*/Resources)

Everything is deterministic (fixed seeds, CPU). Reference values are computed in
float64 from the float32 weights/inputs and stored rounded to float32; the same
computation is repeated in float32 and the float32-vs-float64 discrepancy of every
stored tensor is written to the JSON sidecars ("f32_max_abs_err") as tolerance guidance.
See FIXTURES.md in this folder for the meaning of every file and tensor.
"""
import argparse
import copy
import hashlib
import json
import math
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import (AutoTokenizer, BertConfig, BertForMultipleChoice,
                          BertForSequenceClassification, BertModel)

SEED = 1234
NO_DECAY = ["bias", "LayerNorm.weight"]  # HF run_glue grouping (substring match)

# Hyper-parameters of the training-step fixtures (fixture 3)
K = 3
ADV_LR = 0.1
ADV_MAX_NORM_L2 = 0.5
ADV_MAX_NORM_LINF = 0.15
SGD_LR = 0.1
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
DELTA0_TARGET_NORMS = [0.30, 0.50, 0.40]  # per-example Frobenius norms of the given initial delta
DELTA0_SEED = 1250  # chosen so that no projection / clamp / sign decision is within float32 noise
                    # of its threshold (see the "log" entries in train_steps/index.json)


# ----------------------------------------------------------------------------- utils

def f32(t):
    return t.detach().to(torch.float32).contiguous().clone()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def scalar(x):
    return x.detach().reshape(1)


def save_tensors(path, tensors, meta, ref32=None, masks=None):
    """Save float32 tensors + a JSON sidecar (same stem, .json).

    tensors: name -> tensor (float64 reference)
    ref32:   name -> tensor computed by the float32 run (optional) for error stats
    """
    out = {k: f32(v) for k, v in tensors.items()}
    side = dict(meta)
    side["tensors"] = {}
    for k, v in out.items():
        ent = {"shape": list(v.shape), "dtype": "float32"}
        if ref32 is not None and k in ref32:
            d = (ref32[k].detach().double() - tensors[k].detach().double()).abs()
            ent["f32_max_abs_err"] = float(d.max()) if d.numel() else 0.0
            scale = float(tensors[k].detach().double().abs().max()) if v.numel() else 0.0
            ent["ref_max_abs"] = scale
            if masks is not None and k in masks:
                mk = masks[k]
                ent["f32_max_abs_err_non_padding"] = float(d[mk].max())
                ent["ref_max_abs_non_padding"] = float(tensors[k].detach().double()[mk].abs().max())
        side["tensors"][k] = ent
    # a single metadata key: safetensors writes multi-key metadata in random (hash) order,
    # which would make the files differ byte-wise between otherwise identical runs
    side_name = os.path.basename(path)[:-len(".safetensors")] + ".json"
    save_file(out, path, metadata={"description": meta.get("description", "") + f" (sidecar: {side_name})"})
    with open(path[:-len(".safetensors")] + ".json", "w") as f:
        json.dump(side, f, indent=1, ensure_ascii=False)
        f.write("\n")


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def bert_of(model):
    return model.bert


def wemb(model, ids):
    """Word-embedding output: the tensor FreeLB perturbs (before +pos +type, LayerNorm)."""
    return bert_of(model).embeddings.word_embeddings(ids)


# ----------------------------------------------------------------------------- tiny models

def tiny_config(num_labels, problem_type):
    cfg = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
        num_labels=num_labels, hidden_act="gelu", layer_norm_eps=1e-12,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,  # and eval() anyway
        initializer_range=0.2, pad_token_id=0, problem_type=problem_type,
    )
    cfg._attn_implementation = "eager"
    return cfg


def perturb_(model, gen):
    """Make every parameter non-trivial: HF init sets LayerNorm weights to 1 and all
    biases to 0, which would hide gamma/beta or bias bugs. Deterministic given gen."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif n.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def build_tiny_models():
    torch.manual_seed(SEED)
    cls = BertForSequenceClassification(tiny_config(3, "single_label_classification"))
    gen = torch.Generator().manual_seed(SEED + 1)
    perturb_(cls, gen)
    # padding row of the word embeddings stays exactly zero (HF init zeroes it)
    assert float(cls.bert.embeddings.word_embeddings.weight.detach()[0].abs().max()) == 0.0

    torch.manual_seed(SEED + 2)
    reg = BertForSequenceClassification(tiny_config(1, "regression"))
    perturb_(reg, torch.Generator().manual_seed(SEED + 3))
    reg.bert.load_state_dict(cls.bert.state_dict())  # same encoder, new 1-output head

    torch.manual_seed(SEED + 4)
    mc = BertForMultipleChoice(tiny_config(2, None))
    perturb_(mc, torch.Generator().manual_seed(SEED + 5))
    mc.bert.load_state_dict(cls.bert.state_dict())  # same encoder, new 1-output head
    for m in (cls, reg, mc):
        m.eval()  # dropout off; gradients still enabled
    return cls, reg, mc


def cls_batch():
    # [CLS]=2, [SEP]=3, [PAD]=0, ordinary tokens 4..99. Row 0: pair, padded;
    # row 1: pair, full length; row 2: single segment, heavily padded.
    input_ids = [
        [2, 17, 45, 45, 3, 88, 9, 31, 64, 3, 0, 0],
        [2, 5, 99, 12, 77, 3, 41, 41, 41, 23, 58, 3],
        [2, 66, 8, 19, 45, 3, 0, 0, 0, 0, 0, 0],
    ]
    attention_mask = [[1] * 10 + [0] * 2, [1] * 12, [1] * 6 + [0] * 6]
    token_type_ids = [[0] * 5 + [1] * 5 + [0] * 2, [0] * 6 + [1] * 6, [0] * 12]
    return dict(input_ids=input_ids, attention_mask=attention_mask,
                token_type_ids=token_type_ids)


def mc_batch():
    g = torch.Generator().manual_seed(SEED + 6)
    ids = torch.zeros(2, 4, 10, dtype=torch.long)
    am = torch.zeros(2, 4, 10, dtype=torch.long)
    tt = torch.zeros(2, 4, 10, dtype=torch.long)
    lens_a = [[3, 3, 3, 3], [2, 4, 3, 2]]
    lens_b = [[2, 3, 4, 1], [5, 2, 4, 3]]
    for b in range(2):
        for c in range(4):
            la, lb = lens_a[b][c], lens_b[b][c]
            seq = [2] + torch.randint(4, 100, (la,), generator=g).tolist() + [3] \
                + torch.randint(4, 100, (lb,), generator=g).tolist() + [3]
            n = len(seq)
            ids[b, c, :n] = torch.tensor(seq)
            am[b, c, :n] = 1
            tt[b, c, la + 2:n] = 1
    return dict(input_ids=ids.tolist(), attention_mask=am.tolist(), token_type_ids=tt.tolist())


def to_t(batch, dtype):
    out = {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items() if k != "labels"}
    if "labels" in batch:
        lab = torch.tensor(batch["labels"])
        out["labels"] = lab.to(dtype) if lab.is_floating_point() else lab
    return out


def model_as(model, dtype):
    m = copy.deepcopy(model).to(dtype)
    m.eval()
    return m


def forward_backward(model, batch, dtype, extras=True):
    """Loss, logits, grad wrt word-embedding output, all param grads (dropout off)."""
    m = model_as(model, dtype)
    b = to_t(batch, dtype)
    m.zero_grad(set_to_none=True)
    emb = wemb(m, b["input_ids"])
    emb.retain_grad()
    out = m(inputs_embeds=emb, attention_mask=b["attention_mask"],
            token_type_ids=b["token_type_ids"], labels=b["labels"],
            output_hidden_states=extras, output_attentions=extras)
    out.loss.backward()
    # sanity: inputs_embeds path == input_ids path
    with torch.no_grad():
        out2 = m(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                 token_type_ids=b["token_type_ids"], labels=b["labels"])
        assert torch.allclose(out2.logits, out.logits, rtol=0, atol=1e-12 if dtype == torch.float64 else 1e-6)
    t = {"logits": out.logits, "loss": scalar(out.loss),
         "word_embedding_output": emb, "grad.word_embedding_output": emb.grad}
    if extras:
        for i, h in enumerate(out.hidden_states):
            t[f"hidden_states.{i}"] = h
        for i, a in enumerate(out.attentions):
            t[f"attentions.{i}"] = a
        with torch.no_grad():
            t["pooler_output"] = m.bert(inputs_embeds=emb, attention_mask=b["attention_mask"],
                                        token_type_ids=b["token_type_ids"]).pooler_output
    for n, p in m.named_parameters():
        t[f"grad.{n}"] = p.grad if p.grad is not None else torch.zeros_like(p)
    return t


def save_model_dir(model, d):
    os.makedirs(d, exist_ok=True)
    cfg = model.config.to_dict()
    # keep config.json free of run-time fields; attn implementation is irrelevant to the weights
    for k in ["_attn_implementation_autoset", "_name_or_path", "transformers_version", "dtype", "torch_dtype"]:
        cfg.pop(k, None)
    cfg["architectures"] = [model.__class__.__name__]
    cfg["num_labels"] = model.config.num_labels  # explicit (HF derives it from id2label)
    cfg["position_embedding_type"] = "absolute"
    write_json(os.path.join(d, "config.json"), cfg)
    sd = {n: f32(p) for n, p in model.named_parameters()}
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    # round trip through HF loading
    re = model.__class__.from_pretrained(d, attn_implementation="eager")
    for n, p in re.named_parameters():
        assert torch.equal(p, sd[n]), n
    assert re.config.num_labels == model.config.num_labels


# ----------------------------------------------------------------------------- training-step fixtures

def make_opt(model, name):
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=SGD_LR, momentum=0.0, weight_decay=0.0)
    decay = [p for n, p in model.named_parameters() if not any(nd in n for nd in NO_DECAY)]
    no_decay = [p for n, p in model.named_parameters() if any(nd in n for nd in NO_DECAY)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": ADAMW["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=ADAMW["lr"], betas=ADAMW["betas"], eps=ADAMW["eps"], foreach=False)


def ascent(delta, g, kind, lr, max_norm, log):
    """One ascent update of delta given grad g (shapes [B,S,H])."""
    B = delta.shape[0]
    if kind == "l2":
        denorm = g.reshape(B, -1).norm(p=2, dim=1).clamp(min=1e-8).view(-1, 1, 1)
        d = delta + lr * g / denorm
        if max_norm > 0:
            n = d.reshape(B, -1).norm(p=2, dim=1)
            log.setdefault("pre_projection_norms", []).append(n.tolist())
            exceed = (n > max_norm).to(d.dtype)
            d = d * (max_norm / n * exceed + (1 - exceed)).view(-1, 1, 1)
        log.setdefault("norms_after_update", []).append(d.reshape(B, -1).norm(p=2, dim=1).tolist())
        return d.detach()
    if kind == "linf_sign":
        d = delta + lr * torch.sign(g)
    elif kind == "linf_maxnorm":
        denorm = g.reshape(B, -1).abs().max(dim=1).values.clamp(min=1e-8).view(-1, 1, 1)
        d = delta + lr * g / denorm
    else:
        raise ValueError(kind)
    if max_norm > 0:
        margin = float(((d.abs() - max_norm).abs()).min())
        log.setdefault("clamp_margins", []).append(margin)
        d = d.clamp(-max_norm, max_norm)
    return d.detach()


def fwd_loss(m, b, inputs_embeds):
    return m(inputs_embeds=inputs_embeds, attention_mask=b["attention_mask"],
             token_type_ids=b["token_type_ids"], labels=b["labels"]).loss


def run_method(model0, batch, delta0, method, opt_name, dtype):
    m = model_as(model0, dtype)
    b = to_t(batch, dtype)
    ids = b["input_ids"]
    opt = make_opt(m, opt_name)
    rec, log = {}, {}
    params = dict(m.named_parameters())

    def grads(prefix="grad."):
        return {f"{prefix}{n}": p.grad.detach().clone() for n, p in params.items()}

    if method == "vanilla":
        opt.zero_grad(set_to_none=True)
        loss = m(input_ids=ids, attention_mask=b["attention_mask"],
                 token_type_ids=b["token_type_ids"], labels=b["labels"]).loss
        loss.backward()
        rec["loss.0"] = scalar(loss)
        rec.update(grads())
        opt.step()
    elif method.startswith("freelb"):
        kind = {"freelb_l2": "l2", "freelb_l2_noproj": "l2",
                "freelb_linf_sign": "linf_sign", "freelb_linf_maxnorm": "linf_maxnorm"}[method]
        max_norm = {"freelb_l2": ADV_MAX_NORM_L2, "freelb_l2_noproj": 0.0}.get(method, ADV_MAX_NORM_LINF)
        opt.zero_grad(set_to_none=True)
        delta = delta0.to(dtype).clone()
        rec["delta.0"] = delta.clone()
        embeds_init = wemb(m, ids)
        for t in range(K):
            delta.requires_grad_()
            loss = fwd_loss(m, b, delta + embeds_init)
            rec[f"loss.{t}"] = scalar(loss)
            (loss / K).backward()  # parameter grads accumulate over the K passes
            g = delta.grad.detach().clone()
            rec[f"delta_grad.{t}"] = g
            if kind == "linf_sign":
                nz = g[b["attention_mask"].bool()].abs()
                log.setdefault("min_abs_grad_over_max", []).append(float(nz.min() / nz.max()))
            # delta.{K} is computed as in Alg. 1 of the paper but never used (the official
            # code breaks before this update on the last pass).
            delta = ascent(delta.detach(), g, kind, ADV_LR, max_norm, log)
            rec[f"delta.{t + 1}"] = delta.clone()
            embeds_init = wemb(m, ids)  # fresh graph each pass (same value)
        rec.update(grads())
        opt.step()
    elif method == "pgd_l2":
        delta = delta0.to(dtype).clone()
        rec["delta.0"] = delta.clone()
        for t in range(K):
            delta.requires_grad_()
            loss = fwd_loss(m, b, wemb(m, ids) + delta)
            rec[f"loss.{t}"] = scalar(loss)
            (g,) = torch.autograd.grad(loss, delta)  # no parameter gradients kept
            rec[f"delta_grad.{t}"] = g
            delta = ascent(delta.detach(), g, "l2", ADV_LR, ADV_MAX_NORM_L2, log)
            rec[f"delta.{t + 1}"] = delta.clone()
        opt.zero_grad(set_to_none=True)
        loss = fwd_loss(m, b, wemb(m, ids) + delta)
        rec[f"loss.{K}"] = scalar(loss)
        loss.backward()
        rec.update(grads())
        opt.step()
    elif method == "freeat_l2":
        delta = delta0.to(dtype).clone()
        rec["delta.0"] = delta.clone()
        for t in range(K):
            opt.zero_grad(set_to_none=True)
            delta.requires_grad_()
            loss = fwd_loss(m, b, wemb(m, ids) + delta)  # uses the current (updated) params
            rec[f"loss.{t}"] = scalar(loss)
            loss.backward()
            g = delta.grad.detach().clone()
            rec[f"delta_grad.{t}"] = g
            rec.update(grads(f"grad.replay{t}."))
            opt.step()  # parameter update after every replay
            if t < K - 1:
                for n, p in params.items():
                    rec[f"param_after_replay{t}.{n}"] = p.detach().clone()
            delta = ascent(delta.detach(), g, "l2", ADV_LR, ADV_MAX_NORM_L2, log)
            rec[f"delta.{t + 1}"] = delta.clone()
    else:
        raise ValueError(method)
    for n, p in params.items():
        rec[f"param.{n}"] = p.detach().clone()
    return rec, log, m, opt


def manual_adamw_check(model0, batch, dtype=torch.float64):
    """Re-implements one AdamW step by formula and checks torch.optim.AdamW agrees."""
    rec, _, m, _ = run_method(model0, batch, None, "vanilla", "adamw", dtype)
    lr, (b1, b2), eps, wd = ADAMW["lr"], ADAMW["betas"], ADAMW["eps"], ADAMW["weight_decay"]
    for n, p0 in model0.named_parameters():
        p = p0.detach().to(dtype)
        g = rec[f"grad.{n}"]
        w = 0.0 if any(nd in n for nd in NO_DECAY) else wd
        p = p * (1 - lr * w)
        mm = (1 - b1) * g
        vv = (1 - b2) * g * g
        p = p - (lr / (1 - b1)) * mm / (vv.sqrt() / math.sqrt(1 - b2) + eps)
        assert torch.allclose(p, rec[f"param.{n}"], rtol=0, atol=1e-12), n


# ----------------------------------------------------------------------------- tokenizer cases

LONG_A = ("The committee reviewed the proposal in great detail and eventually decided that "
          "the budget for the new library should be increased next year")
LONG_B = ("Several students complained that the cafeteria food was cold and expensive, so "
          "the school hired a new cook who prepared warm meals every single day of the week")
LONG_C = ("Researchers at the university published a paper describing how adversarial training "
          "can improve the robustness and generalization of large pretrained language models "
          "on many natural language understanding benchmarks")

TOKENIZER_CASES = [
    # single sentences
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "   ",
    "Café naïve résumé — déjà vu à la française.",
    "ÉCOLE NORMALE SUPÉRIEURE, Ångström, Øresund, Straße.",
    "我爱自然语言处理。",
    "BERT模型在2018年发布 (released in 2018).",
    "日本語のテキストも少し: こんにちは",
    "Numbers: 3.14159, 1,000,000, -42, 2nd, 10^6, 1e-5, $19.99, €100, 50%.",
    "pneumonoultramicroscopicsilicovolcanoconiosis and antidisestablishmentarianism",
    "Supercalifragilisticexpialidocious" * 4 + " is longer than one hundred characters",
    "don't won't it's y'all rock'n'roll",
    "E-mail me at john.doe@example.com or visit https://example.org/path?q=1&r=2#frag",
    "Tabs\tand\nnewlines\r\nand  multiple   spaces",
    "Emoji 😀 and symbols ♥ ★ © ® ™ ✓",
    "Zero\u200bwidth space, soft\u00adhyphen and non\u00a0breaking space",
    "Mixed CASE WoRdS LiKe iPhone, McDonald's and NASA.",
    "Punctuation!!! ??? ... ;;; --- ((( ))) [[[ ]]] {{{ }}} <<< >>> ``` ~~~ ^^^ |||",
    "«Guillemets», „quotes“, ‘single’, ¿qué?, ¡sí!",
    "Greek αβγ ΔΣΩ and Cyrillic Привет мир",
    "Combining: e\u0301 vs \u00e9, n\u0303 vs \u00f1",
    "İstanbul ﬁnance ＡＢＣ １２３",
    "The year 1999 was followed by 2000, then 20001 and 1234567890123.",
    "In the beginning of the twenty-first century, researchers around the world developed "
    "increasingly large neural networks that learned representations of language from "
    "enormous amounts of unlabeled text collected from the internet.",
    "hello [MASK] world [SEP] [unused0] [mask]",
    "Ünïcödé ÀÉÎÕÜ àéîõü çÇ ÿŸ",
    "x",
    "C++ and C# are languages; so is F#. Node.js v18.2.0 is software.",
    "Coöperate with the naïve coördinator's reëlection.",
    # sentence pairs
    ["How old are you?", "I am 25 years old."],
    ["", "Only the second segment has text."],
    ["Only the first segment has text.", ""],
    [LONG_A, LONG_B],                      # both long
    [LONG_C, "Short second part."],         # long first, short second
    ["Short first.", LONG_C],               # short first, long second
    [LONG_A, LONG_C],                       # both long, different lengths
    ["Le café est très bon.", "咖啡很好喝。"],
    ["What is 2+2?", "It's 4 — obviously!"],
    [LONG_A + " too", LONG_A],              # both long, first longer by one word
]

MINILM_FORWARD_CASES = [0, 1, 4, 6, 9, 24, 15, 2]  # indices into TOKENIZER_CASES (all single sentences)
MAX_LEN = 32


def gen_tokenizer(tok, out_dir):
    backend = copy.deepcopy(tok.backend_tokenizer)
    backend.enable_truncation(MAX_LEN, strategy="longest_first")
    backend.no_padding()
    cases = []
    for i, c in enumerate(TOKENIZER_CASES):
        pair = isinstance(c, list)
        args = (c[0], c[1]) if pair else (c,)
        enc = tok(*args, truncation="longest_first", max_length=MAX_LEN)
        full = tok(*args, truncation=False)
        ids = enc["input_ids"]
        ent = {
            "index": i,
            "text": c[0] if pair else c,
            "text_pair": c[1] if pair else None,
            "input_ids": ids,
            "token_type_ids": enc["token_type_ids"],
            "attention_mask": enc["attention_mask"],
            "tokens": tok.convert_ids_to_tokens(ids),
            "untruncated_input_ids": full["input_ids"],
            "untruncated_tokens": tok.convert_ids_to_tokens(full["input_ids"]),
        }
        if pair:
            na = len(tok(c[0], add_special_tokens=False)["input_ids"])
            nb = len(tok(c[1], add_special_tokens=False)["input_ids"])
            ent["untruncated_lengths_without_specials"] = [na, nb]
            if ids.count(102) == 2:
                sep = ids.index(102)
                ent["truncated_lengths_without_specials"] = [sep - 1, len(ids) - sep - 2]
        # the Rust backend called directly (differs from the wrapper only for an empty text_pair,
        # which the Python wrapper drops: `[(text, text_pair)] if text_pair else [text]`)
        be = backend.encode(*args)
        if be.ids != ids or be.type_ids != enc["token_type_ids"]:
            ent["backend_input_ids"] = be.ids
            ent["backend_token_type_ids"] = be.type_ids
            ent["note"] = ("HF Python wrapper treats an empty text_pair as absent (single-sentence "
                           "encoding); the Rust backend encodes it as [CLS] A [SEP] [SEP]")
        cases.append(ent)
    obj = {
        "description": "HF fast tokenizer (tokenizers %s) of all-MiniLM-L6-v2: BertNormalizer(clean_text, "
                       "handle_chinese_chars, strip_accents=None->follows lowercase, lowercase), "
                       "BertPreTokenizer, WordPiece(##, max_input_chars_per_word=100, [UNK]), "
                       "template [CLS] A [SEP] (B [SEP]), truncation longest_first to max_length=%d "
                       "(including special tokens), no padding." % (__import__("tokenizers").__version__, MAX_LEN),
        "max_length": MAX_LEN,
        "truncation_strategy": "longest_first",
        "vocab_file": "minilm/vocab.txt",
        "special_ids": {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103},
        "cases": cases,
    }
    write_json(os.path.join(out_dir, "tokenizer", "minilm_tokenizer_cases.json"), obj)
    return cases


# ----------------------------------------------------------------------------- MiniLM forward

def minilm_forward(model_dir, tok, out_dir):
    sents = [TOKENIZER_CASES[i] for i in MINILM_FORWARD_CASES]
    enc = tok(sents, truncation="longest_first", max_length=MAX_LEN, padding=True, return_tensors="pt")

    def run(dtype, attn="eager", threads=1, e=enc):
        torch.set_num_threads(threads)
        m = BertModel.from_pretrained(model_dir, attn_implementation=attn).to(dtype).eval()
        with torch.no_grad():
            o = m(input_ids=e["input_ids"], attention_mask=e["attention_mask"],
                  token_type_ids=e["token_type_ids"], output_hidden_states=True)
        am = e["attention_mask"].to(dtype).unsqueeze(-1)
        mean = (o.last_hidden_state * am).sum(1) / am.sum(1).clamp(min=1e-9)
        torch.set_num_threads(1)
        return o, mean

    o64, mean64 = run(torch.float64)
    o32, mean32 = run(torch.float32)
    t = {
        "last_hidden_state_first4": o64.last_hidden_state[:, :4, :],
        "mean_pooled": mean64,
        "mean_pooled_l2_normalized": torch.nn.functional.normalize(mean64, p=2, dim=1),
        "pooler_output": o64.pooler_output,
        "last_hidden_state": o64.last_hidden_state,
    }
    for i, h in enumerate(o64.hidden_states):
        t[f"hidden_states.{i}.first4"] = h[:, :4, :]
    r32 = {
        "last_hidden_state_first4": o32.last_hidden_state[:, :4, :],
        "mean_pooled": mean32,
        "mean_pooled_l2_normalized": torch.nn.functional.normalize(mean32, p=2, dim=1),
        "pooler_output": o32.pooler_output,
        "last_hidden_state": o32.last_hidden_state,
    }
    for i, h in enumerate(o32.hidden_states):
        r32[f"hidden_states.{i}.first4"] = h[:, :4, :]

    # tolerance study between float32 runs
    def rel(a, b, mask=None):
        a, b = a.double(), b.double()
        if mask is not None:
            a, b = a[mask], b[mask]
        return float((a - b).abs().max() / b.abs().max())

    valid = enc["attention_mask"].bool()
    o32b, mean32b = run(torch.float32, threads=2)
    o32s, mean32s = run(torch.float32, attn="sdpa")
    single_hs, single_mean = [], []
    for k in range(len(sents)):
        ek = tok([sents[k]], truncation="longest_first", max_length=MAX_LEN, return_tensors="pt")
        ok, mk = run(torch.float32, e=ek)
        n = ek["input_ids"].shape[1]
        pad = torch.zeros(1, enc["input_ids"].shape[1] - n, 384)
        single_hs.append(torch.cat([ok.last_hidden_state, pad], 1))
        single_mean.append(mk)
    single_hs = torch.cat(single_hs)
    single_mean = torch.cat(single_mean)
    study = {
        "f32_vs_f64_last_hidden_rel": rel(o32.last_hidden_state, o64.last_hidden_state, valid),
        "f32_vs_f64_mean_pooled_rel": rel(mean32, mean64),
        "f32_threads1_vs_threads2_last_hidden_rel": rel(o32b.last_hidden_state, o32.last_hidden_state, valid),
        "f32_eager_vs_sdpa_last_hidden_rel": rel(o32s.last_hidden_state, o32.last_hidden_state, valid),
        "f32_padded_batch_vs_unpadded_single_last_hidden_rel": rel(single_hs, o32.last_hidden_state, valid),
        "f32_padded_batch_vs_unpadded_single_mean_pooled_rel": rel(single_mean, mean32),
        "note": "rel = max|a-b| / max|b| over non-padding positions",
    }
    meta = {
        "description": "all-MiniLM-L6-v2 BertModel forward (eval, no dropout) on 8 sentences of "
                       "tokenizer/minilm_tokenizer_cases.json, padded batch, max_length 32. Reference "
                       "computed in float64 from the float32 checkpoint, stored as float32.",
        "sentence_case_indices": MINILM_FORWARD_CASES,
        "sentences": sents,
        "input_ids": enc["input_ids"].tolist(),
        "attention_mask": enc["attention_mask"].tolist(),
        "token_type_ids": enc["token_type_ids"].tolist(),
        "model_safetensors_sha256": sha256(os.path.join(model_dir, "model.safetensors")),
        "mean_pooled": "sum_t(h[b,t,:]*mask[b,t]) / max(sum_t mask[b,t], 1e-9) (sentence-transformers Pooling mean)",
        "mean_pooled_l2_normalized": "mean_pooled / ||mean_pooled||_2 (the sentence-transformers all-MiniLM-L6-v2 embedding)",
        "hidden_states.i.first4": "i=0: embedding output (after LayerNorm), i=1..6: output of layer i; tokens 0..3",
        "tolerance_study": study,
    }
    masks = {"last_hidden_state": valid, "last_hidden_state_first4": valid[:, :4]}
    masks.update({f"hidden_states.{i}.first4": valid[:, :4] for i in range(len(o64.hidden_states))})
    save_tensors(os.path.join(out_dir, "minilm", "forward.safetensors"), t, meta, r32, masks)
    return study


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm-dir", required=True)
    ap.add_argument("--out", required=True, help="folder for the fixture tree (tools/goldens/install.py maps it into Tests)")
    args = ap.parse_args()
    out = args.out
    torch.set_num_threads(1)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "tokenizers": __import__("tokenizers").__version__,
                "safetensors": __import__("safetensors").__version__, "python": sys.version.split()[0]}
    print(versions)

    cls, reg, mc = build_tiny_models()

    # ---- fixture 1: tiny classification model
    d = os.path.join(out, "tiny-bert")
    save_model_dir(cls, d)
    bc = cls_batch()
    bc["labels"] = [2, 0, 1]
    write_json(os.path.join(d, "batch.json"), bc)
    fb64 = forward_backward(cls, bc, torch.float64)
    fb32 = forward_backward(cls, bc, torch.float32)
    save_tensors(os.path.join(d, "forward_backward.safetensors"), fb64,
                 {"description": "tiny-bert (num_labels=3) eval-mode forward + backward of mean CE loss on batch.json",
                  "versions": versions}, fb32)

    # ---- fixture 2a: regression
    d = os.path.join(out, "tiny-bert-regression")
    save_model_dir(reg, d)
    br = cls_batch()
    br["labels"] = [0.5, -1.25, 2.0]
    write_json(os.path.join(d, "batch.json"), br)
    save_tensors(os.path.join(d, "forward_backward.safetensors"), forward_backward(reg, br, torch.float64, False),
                 {"description": "tiny-bert regression (num_labels=1, MSE on logits.squeeze()) forward + backward",
                  "versions": versions}, forward_backward(reg, br, torch.float32, False))

    # ---- fixture 2b: multiple choice
    d = os.path.join(out, "tiny-bert-multiple-choice")
    save_model_dir(mc, d)
    bm = mc_batch()
    bm["labels"] = [3, 1]
    write_json(os.path.join(d, "batch.json"), bm)
    save_tensors(os.path.join(d, "forward_backward.safetensors"), forward_backward(mc, bm, torch.float64, False),
                 {"description": "tiny-bert BertForMultipleChoice (2 x 4 choices x 10) forward + backward of CE "
                                 "over the 4 choice logits", "versions": versions},
                 forward_backward(mc, bm, torch.float32, False))

    # ---- fixture 3: training steps
    d = os.path.join(out, "tiny-bert", "train_steps")
    os.makedirs(d, exist_ok=True)
    mask = torch.tensor(bc["attention_mask"], dtype=torch.float32).unsqueeze(-1)
    g = torch.Generator().manual_seed(DELTA0_SEED)
    delta0 = (torch.rand(3, 12, 32, generator=g) * 2 - 1) * mask
    norms = delta0.reshape(3, -1).norm(dim=1)
    delta0 = delta0 * (torch.tensor(DELTA0_TARGET_NORMS) / norms).view(-1, 1, 1)
    delta0 = delta0.to(torch.float32)
    save_file({"delta_init": delta0.contiguous()}, os.path.join(d, "delta_init.safetensors"),
              metadata={"description": "given initial delta [3,12,32], zero on padding positions"})
    manual_adamw_check(cls, bc)

    methods = ["vanilla", "freelb_l2", "freelb_l2_noproj", "freelb_linf_sign",
               "freelb_linf_maxnorm", "pgd_l2", "freeat_l2"]
    index = {"K": K, "adv_lr": ADV_LR, "adv_max_norm_l2": ADV_MAX_NORM_L2,
             "adv_max_norm_linf": ADV_MAX_NORM_LINF, "sgd": {"lr": SGD_LR},
             "adamw": {**ADAMW, "no_decay_substrings": NO_DECAY},
             "delta_init_norms": delta0.reshape(3, -1).norm(dim=1).tolist(),
             "model": "tiny-bert/model.safetensors", "batch": "tiny-bert/batch.json",
             "versions": versions, "files": {}}
    for method in methods:
        for opt_name in ["sgd", "adamw"]:
            r64, log64, _, _ = run_method(cls, bc, delta0, method, opt_name, torch.float64)
            r32, log32, _, _ = run_method(cls, bc, delta0, method, opt_name, torch.float32)
            name = f"{method}_{opt_name}.safetensors"
            save_tensors(os.path.join(d, name), r64,
                         {"description": f"{method} training step with {opt_name}", "method": method,
                          "optimizer": opt_name, "log": log64}, r32)
            index["files"][name] = {"method": method, "optimizer": opt_name, "log": log64,
                                    "losses": [float(v) for k, v in sorted(r64.items()) if k.startswith("loss.")]}
            print(name, json.dumps(log64)[:300])
    write_json(os.path.join(d, "index.json"), index)

    # ---- fixtures 4 + 5: real model
    md = args.minilm_dir
    tok = AutoTokenizer.from_pretrained(md)
    assert tok.is_fast
    mdir = os.path.join(out, "minilm")
    os.makedirs(mdir, exist_ok=True)
    os.makedirs(os.path.join(out, "tokenizer"), exist_ok=True)
    for f in ["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copyfile(os.path.join(md, f), os.path.join(mdir, f))
    gen_tokenizer(tok, out)
    study = minilm_forward(md, tok, out)
    print(json.dumps(study, indent=1))
    for root, _, files in os.walk(out):  # safetensors writes 0600 files; make them world-readable
        for f in files:
            if f.endswith((".safetensors", ".json", ".txt")):
                os.chmod(os.path.join(root, f), 0o644)


if __name__ == "__main__":
    main()
