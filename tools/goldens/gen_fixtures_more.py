#!/usr/bin/env python3
"""Second golden-fixture generator: RoBERTa, ALBERT and a byte-level BPE tokenizer.

Writes (next to this script unless --out is given):
    tokenizer-bpe/   byte-level BPE trained on tokenizer-bpe/corpus.txt + 40 parity cases
    tiny-roberta/    random RobertaForSequenceClassification, forward/backward + one FreeLB-2 step
    tiny-albert/     random AlbertForSequenceClassification, forward/backward

    python gen_fixtures_more.py            # about 5 s, no network, no downloads

It follows the conventions of gen_fixtures.py (and imports its helpers): float64 reference rounded
to float32, JSON sidecars with f32_max_abs_err / ref_max_abs, HF parameter names, dropout off, one
safetensors metadata key. The model/training helpers below are generic over BERT, RoBERTa and ALBERT
and over [B,S] and [B,C,S] (multiple-choice) batches; the hidden holdout generator reuses them.
See FIXTURES.md, section "Additional fixtures", for the meaning of every file.
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import (AlbertConfig, AlbertForSequenceClassification, RobertaConfig,
                          RobertaForSequenceClassification)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
CORPUS = os.path.join(HERE, "inputs", "tokenizer-bpe", "corpus.txt")
import gen_fixtures as G  # noqa: E402  (f32, scalar, save_tensors, write_json, save_model_dir, to_t, model_as)

NO_DECAY = G.NO_DECAY

# ----------------------------------------------------------------------------- generic model helpers


def versions():
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": __import__("tokenizers").__version__,
            "safetensors": __import__("safetensors").__version__, "python": sys.version.split()[0]}


def base_of(model):
    """model.bert / model.roberta / model.albert"""
    return getattr(model, model.base_model_prefix)


def wemb(model, ids):
    """Word-embedding output: the tensor FreeLB perturbs (for ALBERT: embedding_size wide,
    before the embedding_hidden_mapping_in projection)."""
    return base_of(model).embeddings.word_embeddings(ids)


def roberta_position_ids(ids, pad):
    """fairseq make_positions / HF create_position_ids_from_input_ids: real tokens get
    pad+1, pad+2, ... (counting only non-pad tokens), pad tokens get pad."""
    mask = ids.ne(pad).long()
    return torch.cumsum(mask, dim=-1) * mask + pad


def model_kwargs(model, b):
    """Inputs besides the embeddings. RoBERTa position ids are ALWAYS derived from input_ids, also
    when inputs_embeds (= word embeddings + delta) is passed; HF's inputs_embeds fallback would
    use sequential ids pad+1..pad+S, which differ at padding positions."""
    kw = {"attention_mask": b["attention_mask"], "token_type_ids": b["token_type_ids"]}
    if model.config.model_type == "roberta":
        kw["position_ids"] = roberta_position_ids(b["input_ids"], model.config.pad_token_id)
    return kw


def perturb_(model, gen):
    """gen_fixtures.perturb_, generalised to LayerNorms whose parameter name does not end in
    'LayerNorm.weight' (ALBERT's full_layer_layer_norm): every LayerNorm weight becomes
    1 + 0.2 N(0,1) and every bias 0.1 N(0,1), drawn in named_parameters() order. For BERT this is
    identical to gen_fixtures.perturb_."""
    ln = {f"{mn}.weight" for mn, mod in model.named_modules() if isinstance(mod, torch.nn.LayerNorm)}
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in ln:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif n.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def check_padding_rows_zero(model):
    e = base_of(model).embeddings
    pad = model.config.pad_token_id
    assert float(e.word_embeddings.weight.detach()[pad].abs().max()) == 0.0
    if model.config.model_type == "roberta":
        assert float(e.position_embeddings.weight.detach()[pad].abs().max()) == 0.0


def to_t(batch, dtype):
    """gen_fixtures.to_t restricted to the model inputs (batch.json may also hold texts, position_ids)."""
    return G.to_t({k: v for k, v in batch.items()
                   if k in ("input_ids", "attention_mask", "token_type_ids", "labels")}, dtype)


def forward_backward(model, batch, dtype, extras=True):
    """Loss, logits, grad wrt the word-embedding output, all parameter grads (dropout off)."""
    m = G.model_as(model, dtype)
    b = to_t(batch, dtype)
    kw = model_kwargs(m, b)
    m.zero_grad(set_to_none=True)
    emb = wemb(m, b["input_ids"])
    emb.retain_grad()
    out = m(inputs_embeds=emb, labels=b["labels"], output_hidden_states=extras,
            output_attentions=extras, **kw)
    out.loss.backward()
    with torch.no_grad():  # sanity: the input_ids path (HF derives its own position ids) agrees
        out2 = m(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                 token_type_ids=b["token_type_ids"], labels=b["labels"])
        assert torch.allclose(out2.logits, out.logits, rtol=0,
                              atol=1e-12 if dtype == torch.float64 else 1e-6)
    t = {"logits": out.logits, "loss": G.scalar(out.loss),
         "word_embedding_output": emb, "grad.word_embedding_output": emb.grad}
    if extras:
        base = base_of(m)
        with torch.no_grad():
            if m.config.model_type == "albert":  # embedding LayerNorm output, before the E->H projection
                t["embedding_output"] = base.embeddings(
                    inputs_embeds=emb, token_type_ids=b["token_type_ids"])
        for i, h in enumerate(out.hidden_states):
            t[f"hidden_states.{i}"] = h
        for i, a in enumerate(out.attentions):
            t[f"attentions.{i}"] = a
        with torch.no_grad():
            if getattr(base, "pooler", None) is not None:
                t["pooler_output"] = base(inputs_embeds=emb, **kw).pooler_output
            if m.config.model_type == "roberta":
                t["classifier_dense_tanh_output"] = torch.tanh(m.classifier.dense(out.hidden_states[-1][:, 0]))
    for n, p in m.named_parameters():
        t[f"grad.{n}"] = p.grad if p.grad is not None else torch.zeros_like(p)
    return t


def write_forward_backward(model, batch, d, description, extras=True, keep=None, meta=None):
    """keep: optional predicate on tensor names (the holdout stores a subset to fit its size budget)."""
    fb64 = forward_backward(model, batch, torch.float64, extras)
    fb32 = forward_backward(model, batch, torch.float32, extras)
    if keep is not None:
        fb64 = {k: v for k, v in fb64.items() if keep(k)}
    G.save_tensors(os.path.join(d, "forward_backward.safetensors"), fb64,
                   {"description": description, "versions": versions(), **(meta or {})}, fb32)
    return fb64


# ----------------------------------------------------------------------------- training-step helpers

def make_opt(model, spec):
    """spec: {"name": "sgd", "lr"} or {"name": "adamw", "lr", "betas", "eps", "weight_decay"}."""
    if spec["name"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=0.0, weight_decay=0.0)
    decay = [p for n, p in model.named_parameters() if not any(nd in n for nd in NO_DECAY)]
    no_decay = [p for n, p in model.named_parameters() if any(nd in n for nd in NO_DECAY)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": spec["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=spec["lr"], betas=tuple(spec["betas"]), eps=spec["eps"], foreach=False)


def _bshape(x):
    return (-1,) + (1,) * (x.dim() - 1)


def ascent(delta, g, kind, lr, max_norm, log):
    """One ascent update. delta, g: [N, ...]; one norm per leading index, taken over ALL other
    dims (an example [S,H]; for multiple choice [B,C,S,H] a question: C x S x H jointly)."""
    N = delta.shape[0]
    if kind == "l2":
        denorm = g.reshape(N, -1).norm(p=2, dim=1).clamp(min=1e-8).view(_bshape(g))
        d = delta + lr * g / denorm
        if max_norm > 0:
            n = d.reshape(N, -1).norm(p=2, dim=1)
            log.setdefault("pre_projection_norms", []).append(n.tolist())
            exceed = (n > max_norm).to(d.dtype)
            d = d * (max_norm / n * exceed + (1 - exceed)).view(_bshape(d))
        log.setdefault("norms_after_update", []).append(d.reshape(N, -1).norm(p=2, dim=1).tolist())
        return d.detach()
    if kind == "linf_sign":
        d = delta + lr * torch.sign(g)
    elif kind == "linf_maxnorm":
        denorm = g.reshape(N, -1).abs().max(dim=1).values.clamp(min=1e-8).view(_bshape(g))
        d = delta + lr * g / denorm
    else:
        raise ValueError(kind)
    if max_norm > 0:
        margin = float(((d.abs() - max_norm).abs()).min())
        log.setdefault("clamp_margins", []).append(margin)
        log.setdefault("n_clamped", []).append(int((d.abs() > max_norm).sum()))
        d = d.clamp(-max_norm, max_norm)
    return d.detach()


def ascent_per_choice(delta, g, kind, lr, max_norm, log):
    """WRONG-on-purpose variant for multiple choice: one norm per (question, choice). Only used to
    report how far a per-choice implementation lands from the joint fixture."""
    B, C = delta.shape[:2]
    d = ascent(delta.reshape(B * C, *delta.shape[2:]), g.reshape(B * C, *g.shape[2:]), kind, lr, max_norm, log)
    return d.reshape(delta.shape)


def run_method(model0, batch, delta0, method, hp, dtype, ascent_fn=ascent):
    """One training step of `method` with hyper-parameters hp:
    {"K", "adv_lr", "adv_max_norm", "optimizer": spec for make_opt}. Same loops as
    gen_fixtures.run_method (see FIXTURES.md section 3), parametrised, generic over model types."""
    m = G.model_as(model0, dtype)
    b = to_t(batch, dtype)
    ids = b["input_ids"]
    kw = model_kwargs(m, b)
    K, lr, mx = hp.get("K"), hp.get("adv_lr"), hp.get("adv_max_norm")
    opt = make_opt(m, hp["optimizer"])
    rec, log = {}, {}
    params = dict(m.named_parameters())

    def loss_at(inputs_embeds):
        return m(inputs_embeds=inputs_embeds, labels=b["labels"], **kw).loss

    def grads(prefix="grad."):
        return {f"{prefix}{n}": p.grad.detach().clone() for n, p in params.items()}

    def sign_log(g):
        nz = g[b["attention_mask"].bool()].abs()
        log.setdefault("min_abs_grad_over_max", []).append(float(nz.min() / nz.max()))

    if method == "vanilla":
        opt.zero_grad(set_to_none=True)
        loss = m(input_ids=ids, labels=b["labels"], **kw).loss
        loss.backward()
        rec["loss.0"] = G.scalar(loss)
        rec.update(grads())
        opt.step()
    elif method.startswith("freelb"):
        kind = {"freelb_l2": "l2", "freelb_l2_noproj": "l2", "freelb_linf_sign": "linf_sign",
                "freelb_linf_maxnorm": "linf_maxnorm"}[method]
        opt.zero_grad(set_to_none=True)
        delta = delta0.to(dtype).clone()
        rec["delta.0"] = delta.clone()
        for t in range(K):
            delta.requires_grad_()
            loss = loss_at(wemb(m, ids) + delta)  # fresh embedding graph every pass
            rec[f"loss.{t}"] = G.scalar(loss)
            (loss / K).backward()  # parameter grads accumulate over the K passes
            g = delta.grad.detach().clone()
            rec[f"delta_grad.{t}"] = g
            if kind == "linf_sign":
                sign_log(g)
            delta = ascent_fn(delta.detach(), g, kind, lr, mx, log)  # delta.K: stored, never used
            rec[f"delta.{t + 1}"] = delta.clone()
        rec.update(grads())
        opt.step()
    elif method == "pgd_l2":
        delta = delta0.to(dtype).clone()
        rec["delta.0"] = delta.clone()
        for t in range(K):
            delta.requires_grad_()
            loss = loss_at(wemb(m, ids) + delta)
            rec[f"loss.{t}"] = G.scalar(loss)
            (g,) = torch.autograd.grad(loss, delta)  # no parameter gradients kept
            rec[f"delta_grad.{t}"] = g
            delta = ascent_fn(delta.detach(), g, "l2", lr, mx, log)
            rec[f"delta.{t + 1}"] = delta.clone()
        opt.zero_grad(set_to_none=True)
        loss = loss_at(wemb(m, ids) + delta)
        rec[f"loss.{K}"] = G.scalar(loss)
        loss.backward()
        rec.update(grads())
        opt.step()
    elif method == "freeat_l2":
        delta = delta0.to(dtype).clone()
        rec["delta.0"] = delta.clone()
        for t in range(K):
            opt.zero_grad(set_to_none=True)
            delta.requires_grad_()
            loss = loss_at(wemb(m, ids) + delta)  # uses the current (updated) params
            rec[f"loss.{t}"] = G.scalar(loss)
            loss.backward()
            g = delta.grad.detach().clone()
            rec[f"delta_grad.{t}"] = g
            rec.update(grads(f"grad.replay{t}."))
            opt.step()  # parameter update after every replay
            if t < K - 1:
                for n, p in params.items():
                    rec[f"param_after_replay{t}.{n}"] = p.detach().clone()
            delta = ascent_fn(delta.detach(), g, "l2", lr, mx, log)
            rec[f"delta.{t + 1}"] = delta.clone()
    else:
        raise ValueError(method)
    for n, p in params.items():
        rec[f"param.{n}"] = p.detach().clone()
    return rec, log


def manual_adamw_check(model0, batch, spec, dtype=torch.float64):
    """One AdamW step by formula must equal torch.optim.AdamW (as gen_fixtures.manual_adamw_check)."""
    rec, _ = run_method(model0, batch, None, "vanilla", {"optimizer": spec}, dtype)
    lr, (b1, b2), eps, wd = spec["lr"], spec["betas"], spec["eps"], spec["weight_decay"]
    for n, p0 in model0.named_parameters():
        p = p0.detach().to(dtype)
        g = rec[f"grad.{n}"]
        w = 0.0 if any(nd in n for nd in NO_DECAY) else wd
        p = p * (1 - lr * w)
        p = p - (lr / (1 - b1)) * ((1 - b1) * g) / (((1 - b2) * g * g).sqrt() / math.sqrt(1 - b2) + eps)
        assert torch.allclose(p, rec[f"param.{n}"], rtol=0, atol=1e-12), n


def margins(log, max_norm):
    """How far every discrete decision of a run is from its threshold."""
    out = {}
    if "pre_projection_norms" in log:
        flat = [x for step in log["pre_projection_norms"] for x in step]
        out["min_projection_margin"] = min(abs(x - max_norm) for x in flat)
        out["n_projected"] = sum(x > max_norm for x in flat)
        out["n_not_projected"] = sum(x <= max_norm for x in flat)
    if "clamp_margins" in log:
        out["min_clamp_margin"] = min(log["clamp_margins"])
    if "min_abs_grad_over_max" in log:
        out["min_abs_grad_over_max"] = min(log["min_abs_grad_over_max"])
    return out


def delta_from_seed(seed, mask, target_norms):
    """Uniform(-1,1) noise times the mask, rescaled to the given per-example (per-question for
    [B,C,S] masks) Frobenius norms; zero on padding. As gen_fixtures (tiny-bert/train_steps)."""
    g = torch.Generator().manual_seed(seed)
    d = (torch.rand(*mask.shape, generator=g) * 2 - 1) * mask
    N = d.shape[0]
    norms = d.reshape(N, -1).norm(dim=1)
    d = d * (torch.tensor(target_norms) / norms).view(_bshape(d))
    return d.to(torch.float32).contiguous()


def write_train_steps(model, batch, d, delta_inits, runs, meta, check_margins=None, keep=None):
    """runs: list of (file_stem, method, hp, delta_init_name). Writes <stem>.safetensors/.json,
    delta_init.safetensors (all delta_inits) and index.json. keep: optional predicate on tensor
    names (the holdout stores a subset to fit its size budget)."""
    os.makedirs(d, exist_ok=True)
    save_file({k: v.contiguous() for k, v in delta_inits.items()}, os.path.join(d, "delta_init.safetensors"),
              metadata={"description": "given initial perturbation(s) " + ", ".join(
                  f"{k} {list(v.shape)}" for k, v in delta_inits.items()) + ", zero on padding positions"})
    index = dict(meta)
    index["delta_init_norms"] = {k: v.reshape(v.shape[0], -1).norm(dim=1).tolist() for k, v in delta_inits.items()}
    index["versions"] = versions()
    index["files"] = {}
    for stem, method, hp, dname in runs:
        r64, log64 = run_method(model, batch, delta_inits[dname], method, hp, torch.float64)
        r32, _ = run_method(model, batch, delta_inits[dname], method, hp, torch.float32)
        if keep is not None:
            r64 = {k: v for k, v in r64.items() if keep(k)}
        mg = margins(log64, hp.get("adv_max_norm", 0.0))
        if check_margins:
            check_margins(stem, mg)
        name = f"{stem}.safetensors"
        G.save_tensors(os.path.join(d, name), r64,
                       {"description": f"{method} training step with {hp['optimizer']['name']}",
                        "method": method, "optimizer": hp["optimizer"]["name"], "hparams": hp,
                        "delta_init": dname, "log": log64, "margins": mg}, r32)
        index["files"][name] = {"method": method, "optimizer": hp["optimizer"]["name"], "hparams": hp,
                                "delta_init": dname, "log": log64, "margins": mg,
                                "losses": [float(r64[f"loss.{t}"]) for t in range(len(
                                    [k for k in r64 if k.startswith("loss.")]))]}
        print(" ", name, json.dumps(mg))
    G.write_json(os.path.join(d, "index.json"), index)
    return index


def chmod_tree(out):
    for root, _, files in os.walk(out):  # safetensors writes 0600 files; make them world-readable
        for f in files:
            if f.endswith((".safetensors", ".json", ".txt")):
                os.chmod(os.path.join(root, f), 0o644)


# ----------------------------------------------------------------------------- tokenizer-bpe

BPE_VOCAB_SIZE = 500
BPE_MAX_LEN = 24
BPE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4 (RoBERTa order; <pad> = 1)

BPE_LONG_A = ("The committee reviewed the proposal in great detail and eventually decided that "
              "the budget for the new library should be increased next year.")
BPE_LONG_B = ("Several students complained that the cafeteria food was cold, so the school hired "
              "a new cook who prepared warm meals every day.")

# kind: "single" / "pair" -> template + truncation to 24 (longest_first);
#       "roundtrip" -> no special tokens, no truncation, decode(ids) == text
BPE_CASES = [
    ("single", "Hello, world!"),
    ("single", "The quick brown fox jumps over the lazy dog."),
    ("single", ""),
    ("single", "   "),
    ("single", "Café naïve résumé — déjà vu à la française."),
    ("single", "我爱自然语言处理。"),
    ("single", "Emoji 😀 and family 👨\u200d👩\u200d👧\u200d👦 and flag 🇫🇷!"),
    ("single", "Numbers: 3.14159, 1,000,000, -42, 2nd, 1e-5, $19.99, €100, 50%."),
    ("single", "Tabs\tand\nnewlines\r\nand  multiple   spaces"),
    ("single", "I can't believe they'd say it's fine, y'all."),
    ("single", BPE_LONG_A),                                   # truncated to 22 + 2 specials
    ("single", "hello <mask> world"),                         # <mask> lstrip: eats the space before it
    ("single", "<s>literal specials</s> and <pad><unk>  <mask>x"),
    ("single", "Привет, мир! Καλημέρα κόσμε."),
    ("single", "  leading and trailing spaces  "),
    ("single", "CamelCaseIdentifiers and snake_case_identifiers"),
    ("single", "e\u0301 vs \u00e9, n\u0303 vs \u00f1"),
    ("single", "Zero\u200bwidth and non\u00a0breaking space"),
    ("single", "한국어 문장 and 日本語のテキスト 🎉🎉🎉"),       # truncation cuts inside a multi-byte char
    ("single", "xylophone quizzically zephyr"),
    ("single", "a"),
    ("pair", "Is it raining?", "No, it's sunny."),
    ("pair", "", "Only the second segment has text."),
    ("pair", "Only the first segment has text.", ""),
    ("pair", BPE_LONG_A, BPE_LONG_B),                         # both truncated
    ("pair", BPE_LONG_A, "Short second part."),               # only the first truncated
    ("pair", "Short first.", BPE_LONG_B),                     # only the second truncated
    ("pair", "Le café est très bon.", "咖啡很好喝。"),
    ("pair", "The cat sat on the mat.", "The dog sat on the log."),
    ("pair", "What is 2+2?", "It's 4 — obviously! 🎉"),
    ("pair", BPE_LONG_B, BPE_LONG_A + " Indeed."),
    ("roundtrip", "  multiple   spaces\tand\ttabs\n\nnewlines\r\n"),
    ("roundtrip", "Unicode: ÀÉÎÕÜ ßẞ æÆ œŒ øØ åÅ İı"),
    ("roundtrip", "CJK 中文 日本語 한국어 and emoji 👍🏽 ❤️ 🚀"),
    ("roundtrip", "Code: def f(x): return x**2  # comment {\"k\": [1, 2]}"),
    ("roundtrip", "Control chars: \u0000 \u0007 \u001b[0m, soft\u00adhyphen, \ufeffBOM"),
    ("roundtrip", "The children played in the park until the sun went down. My grandmother bakes "
                  "bread every Sunday morning. The train leaves from platform nine at noon."),
    ("roundtrip", "Rare scripts: ᚠᛇᚻ ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈"),
    ("roundtrip", "1234567890 3.14 -0.5e+10 0x1F 2^32=4294967296"),
    ("roundtrip", "\n\n   \t \n"),
]
# With max_length 24 a pair's budget (20) is even, and then Rust's longest_first and the "slow"
# one-token-at-a-time loop agree. These extra pairs use max_length 25 (budget 21), where they differ.
BPE_ODD_MAX_LEN = 25
BPE_ODD_PAIRS = [(BPE_LONG_A, BPE_LONG_B), (BPE_LONG_B, BPE_LONG_A),
                 ("The cat sat on the mat. " * 3, "The dog sat on the log. " * 3)]
BPE_BATCH = ["The cat sat on the mat.", "Hello, world!", BPE_LONG_B, ""]  # padded batch example


def train_bpe(corpus_path):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    corpus = open(corpus_path, encoding="utf-8").read()
    paragraphs = [p + "\n" for p in corpus.split("\n\n")]  # newlines inside a paragraph are kept
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    specials = BPE_SPECIALS[:-1] + [AddedToken("<mask>", lstrip=True, special=True, normalized=False)]
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB_SIZE, min_frequency=2, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(paragraphs, trainer=trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    for i, s in enumerate(BPE_SPECIALS):
        assert tok.token_to_id(s) == i, s
    return tok


def gen_bpe_tokenizer(out):
    from tokenizers import Tokenizer
    d = os.path.join(out, "tokenizer-bpe")
    os.makedirs(d, exist_ok=True)
    shutil.copyfile(CORPUS, os.path.join(d, "corpus.txt"))  # the only input, committed under inputs/
    tok = train_bpe(os.path.join(d, "corpus.txt"))
    tok.save(os.path.join(d, "tokenizer.json"))
    tok.model.save(d)  # vocab.json + merges.txt
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))  # everything below uses the saved file
    trunc = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    trunc.enable_truncation(BPE_MAX_LEN, strategy="longest_first")
    try:  # the transformers wrapper, for the record (differs only for an empty text_pair)
        from transformers import PreTrainedTokenizerFast
        wrapper = PreTrainedTokenizerFast(tokenizer_object=trunc, bos_token="<s>", eos_token="</s>",
                                          sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                          pad_token="<pad>", mask_token="<mask>")
    except Exception:  # pragma: no cover
        wrapper = None
    cases = []
    for i, c in enumerate(BPE_CASES):
        kind, args = c[0], c[1:]
        if kind == "roundtrip":
            e = tok.encode(args[0], add_special_tokens=False)
            dec = tok.decode(e.ids, skip_special_tokens=False)
            assert dec == args[0], (i, dec, args[0])
            ent = {"index": i, "kind": kind, "text": args[0], "text_pair": None, "input_ids": e.ids,
                   "tokens": e.tokens, "offsets": [list(o) for o in e.offsets], "decoded": dec}
            cases.append(ent)
            continue
        e = trunc.encode(*args)
        full = tok.encode(*args)
        ent = {"index": i, "kind": kind, "text": args[0], "text_pair": args[1] if kind == "pair" else None,
               "input_ids": e.ids, "attention_mask": e.attention_mask, "type_ids": e.type_ids,
               "tokens": e.tokens, "offsets": [list(o) for o in e.offsets],
               "decoded": tok.decode(e.ids, skip_special_tokens=True),
               "decoded_with_special_tokens": tok.decode(e.ids, skip_special_tokens=False),
               "untruncated_input_ids": full.ids}
        na = len(tok.encode(args[0], add_special_tokens=False).ids)
        if kind == "pair":
            nb = len(tok.encode(args[1], add_special_tokens=False).ids)
            ent["untruncated_lengths_without_specials"] = [na, nb]
            sep = e.ids.index(2)
            ent["truncated_lengths_without_specials"] = [sep - 1, len(e.ids) - sep - 3]
        else:
            ent["untruncated_lengths_without_specials"] = [na]
            ent["truncated_lengths_without_specials"] = [len(e.ids) - 2]
        if wrapper is not None:
            w = wrapper(*args, truncation="longest_first", max_length=BPE_MAX_LEN)["input_ids"]
            if w != e.ids:
                ent["transformers_wrapper_input_ids"] = w
                ent["note"] = ("the transformers Python wrapper treats an empty text_pair as absent "
                               "(single-sentence encoding); the tokenizers library itself, the reference "
                               "here, encodes <s> A </s></s></s>")
        cases.append(ent)
    odd = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    odd.enable_truncation(BPE_ODD_MAX_LEN, strategy="longest_first")
    odd_cases = []
    for a, b in BPE_ODD_PAIRS:
        e = odd.encode(a, b)
        sep = e.ids.index(2)
        odd_cases.append({"text": a, "text_pair": b, "input_ids": e.ids,
                          "untruncated_lengths_without_specials": [len(tok.encode(a, add_special_tokens=False).ids),
                                                                   len(tok.encode(b, add_special_tokens=False).ids)],
                          "truncated_lengths_without_specials": [sep - 1, len(e.ids) - sep - 3]})
    padded = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    padded.enable_truncation(BPE_MAX_LEN, strategy="longest_first")
    padded.enable_padding(pad_id=1, pad_token="<pad>")  # right padding to the longest
    pb = padded.encode_batch(BPE_BATCH)
    obj = {
        "description": "byte-level BPE (tokenizers %s) trained on corpus.txt: no normalizer, added special "
                       "tokens <s> <pad> </s> <unk> <mask>(lstrip), ByteLevel pre-tokenizer "
                       "(add_prefix_space=False, GPT-2 regex), BPE without unk/dropout, RobertaProcessing "
                       "(<s> A </s> / <s> A </s></s> B </s>), truncation longest_first to max_length=%d "
                       "(special tokens included), no padding, ByteLevel decoder. Reference = the tokenizers "
                       "library: Tokenizer.from_file('tokenizer.json').encode(text[, pair]) / .decode(ids)."
                       % (__import__("tokenizers").__version__, BPE_MAX_LEN),
        "max_length": BPE_MAX_LEN,
        "truncation_strategy": "longest_first",
        "vocab_size": tok.get_vocab_size(),
        "special_ids": {s: i for i, s in enumerate(BPE_SPECIALS)},
        "files": ["tokenizer.json", "vocab.json", "merges.txt"],
        "cases": cases,
        "odd_budget_pairs": {"max_length": BPE_ODD_MAX_LEN, "truncation_strategy": "longest_first",
                             "cases": odd_cases},
        "padded_batch": {"texts": BPE_BATCH, "padding": "right, to the longest, pad id 1",
                         "input_ids": [x.ids for x in pb], "attention_mask": [x.attention_mask for x in pb]},
    }
    G.write_json(os.path.join(d, "bpe_tokenizer_cases.json"), obj)
    print("tokenizer-bpe: vocab", tok.get_vocab_size(), "cases", len(cases))
    return tok


# ----------------------------------------------------------------------------- tiny-roberta

ROBERTA_SEED = 2234
ROBERTA_T = 20
ROBERTA_TEXTS = [["The cat sat on the mat."],
                 ["Is it raining?", "No."],
                 ["This movie is great! I loved the acting and the music, the plot was wonderful."],
                 ["Emoji 😀 and café"]]
ROBERTA_LABELS = [1, 0, 1, 0]
ROBERTA_TRAIN = {"K": 2, "adv_lr": 0.08, "adv_max_norm": 0.3, "optimizer": {"name": "sgd", "lr": 0.1}}
ROBERTA_DELTA0_NORMS = [0.20, 0.26, 0.30, 0.12]
ROBERTA_DELTA0_SEED = 2265  # smallest projection margin 0.011 (see index.json "margins")


def roberta_config(vocab_size):
    cfg = RobertaConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=40, type_vocab_size=1, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=None,
        initializer_range=0.2, num_labels=2, problem_type="single_label_classification")
    cfg._attn_implementation = "eager"
    return cfg


def build_roberta(vocab_size):
    torch.manual_seed(ROBERTA_SEED)
    m = RobertaForSequenceClassification(roberta_config(vocab_size))
    perturb_(m, torch.Generator().manual_seed(ROBERTA_SEED + 1))
    check_padding_rows_zero(m)
    return m.eval()


def roberta_batch(tok):
    t = tok.__class__.from_str(tok.to_str())
    t.enable_truncation(ROBERTA_T, strategy="longest_first")
    t.enable_padding(pad_id=1, pad_token="<pad>", length=ROBERTA_T)
    encs = [t.encode(*x) for x in ROBERTA_TEXTS]
    ids = torch.tensor([e.ids for e in encs])
    return {"texts": ROBERTA_TEXTS,
            "input_ids": ids.tolist(),
            "attention_mask": [e.attention_mask for e in encs],
            "token_type_ids": [[0] * ROBERTA_T for _ in encs],
            "position_ids": roberta_position_ids(ids, 1).tolist(),
            "labels": ROBERTA_LABELS}


def gen_roberta(out, tok, search=None):
    d = os.path.join(out, "tiny-roberta")
    model = build_roberta(tok.get_vocab_size())
    batch = roberta_batch(tok)
    mask = torch.tensor(batch["attention_mask"], dtype=torch.float32).unsqueeze(-1).expand(-1, -1, 32)
    if search:
        return search_seeds(model, batch, mask, ROBERTA_DELTA0_NORMS,
                            [("freelb_l2", ROBERTA_TRAIN)], search)
    G.save_model_dir(model, d)
    G.write_json(os.path.join(d, "batch.json"), {k: v for k, v in batch.items()})
    fb = write_forward_backward(model, batch, d, "tiny-roberta RobertaForSequenceClassification (num_labels=2) "
                                "eval-mode forward + backward of mean CE loss on batch.json")
    # invariant: position ids skip padding, so hidden states of real tokens do not depend on padding
    print("tiny-roberta: loss", float(fb["loss"]))
    delta0 = delta_from_seed(ROBERTA_DELTA0_SEED, mask, ROBERTA_DELTA0_NORMS)

    def need(stem, mg):
        assert mg["min_projection_margin"] >= 2e-3 and mg["n_projected"] > 0 and mg["n_not_projected"] > 0, mg

    write_train_steps(model, batch, os.path.join(d, "train_steps"), {"delta_init": delta0},
                      [("freelb_l2_sgd", "freelb_l2", ROBERTA_TRAIN, "delta_init")],
                      {"model": "tiny-roberta/model.safetensors", "batch": "tiny-roberta/batch.json",
                       "K": ROBERTA_TRAIN["K"], "adv_lr": ROBERTA_TRAIN["adv_lr"],
                       "adv_max_norm_l2": ROBERTA_TRAIN["adv_max_norm"], "sgd": {"lr": 0.1},
                       "position_ids": "derived from input_ids in every pass (pads skipped), "
                                       "as batch.json position_ids"}, need)
    return model


# ----------------------------------------------------------------------------- tiny-albert

ALBERT_SEED = 3234


def albert_config():
    cfg = AlbertConfig(
        vocab_size=100, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_hidden_groups=1,
        inner_group_num=1, num_attention_heads=4, intermediate_size=64, hidden_act="gelu_new",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0,
        max_position_embeddings=64, type_vocab_size=2, initializer_range=0.2, layer_norm_eps=1e-12,
        pad_token_id=0, bos_token_id=2, eos_token_id=3, num_labels=3,
        problem_type="single_label_classification")
    cfg._attn_implementation = "eager"
    return cfg


def gen_albert(out):
    d = os.path.join(out, "tiny-albert")
    torch.manual_seed(ALBERT_SEED)
    model = AlbertForSequenceClassification(albert_config())
    perturb_(model, torch.Generator().manual_seed(ALBERT_SEED + 1))
    check_padding_rows_zero(model)
    model.eval()
    G.save_model_dir(model, d)
    batch = G.cls_batch()  # the tiny-bert batch: [CLS]=2 [SEP]=3 [PAD]=0
    batch["labels"] = [1, 2, 0]
    G.write_json(os.path.join(d, "batch.json"), batch)
    fb = write_forward_backward(model, batch, d, "tiny-albert AlbertForSequenceClassification (num_labels=3, "
                                "embedding_size 16, 2 layers sharing one group) eval-mode forward + backward "
                                "of mean CE loss on batch.json")
    print("tiny-albert: loss", float(fb["loss"]))
    return model


# ----------------------------------------------------------------------------- delta-init seed search

def search_seeds(model, batch, mask, norms, runs, seeds):
    """Print the decision margins for candidate delta_init seeds (used once to pick *_DELTA0_SEED)."""
    for s in seeds:
        d0 = delta_from_seed(s, mask, norms)
        res = {}
        for method, hp in runs:
            _, log = run_method(model, batch, d0, method, hp, torch.float64)
            res[method] = margins(log, hp.get("adv_max_norm", 0.0))
        print(s, json.dumps(res))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="folder for the fixture tree (tools/goldens/install.py maps it into Tests)")
    ap.add_argument("--search-delta-seeds", default=None, help="e.g. 2250:2270 (prints margins, writes nothing)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(versions())
    out = args.out
    if args.search_delta_seeds:
        from tokenizers import Tokenizer
        a, b = map(int, args.search_delta_seeds.split(":"))
        tok = Tokenizer.from_file(os.path.join(out, "tokenizer-bpe", "tokenizer.json"))
        gen_roberta(out, tok, search=range(a, b))
        return
    tok = gen_bpe_tokenizer(out)
    gen_roberta(out, tok)
    gen_albert(out)
    chmod_tree(out)


if __name__ == "__main__":
    main()
