#!/usr/bin/env python3
"""PyTorch reference: fine-tune a BERT checkpoint on a GLUE task with vanilla training, FreeLB-K
or PGD-K, on CPU. It reads the official GLUE TSV files and evaluates the dev set after every epoch.

The semantics follow docs/method.md of the repository (§2-§7, §9, §12):
  * FreeLB-K: K forward/backward passes per batch, each on loss/K, so parameter gradients
    accumulate; per-example L2-normalised ascent on delta, then projection to --adv-max-norm
    (when > 0). The gradient of the last pass is not used for delta. One optimizer step per batch.
  * PGD-K: K ascent passes that take only the delta gradient, then one descent pass on the
    undivided loss at delta_K (K+1 passes in total).
  * delta lives on the word-embedding output. Init for L2:
    U(-1,1) * mask * mu / sqrt(L_b * d); E||delta0_b|| = mu/sqrt(3), not mu.
  * Dropout masks (embedding, attention probabilities, attention output, FFN output, classifier
    head) are sampled on the first pass of a batch and reused on the later passes, unless
    --no-reuse-dropout-mask is given.
  * AdamW (PyTorch formula), weight decay on everything except biases and LayerNorm weights,
    linear warmup then linear decay to 0, global gradient-norm clipping, fp32.
K is the number of passes (the paper's FreeLB-K and the HF script's meaning). The fairseq
script's `--adv-steps N` corresponds to K = N + 1 here.

Attention: the HF "eager" computation, registered under the name "eager_reusable_dropout" so
that attention-probability dropout goes through a module whose mask can be kept (HF's own eager
and SDPA paths draw that mask inside a functional call). The same code path is used for every
method, including vanilla, so that methods differ only in the training loop.

Batches: the training set is shuffled every epoch (torch.Generator seeded with --seed), cut into
consecutive batches (last one partial), and each batch is padded to its own longest sequence
(dynamic padding). Sentences and pairs are truncated to --max-seq-length ("longest_first").

Output: one JSON line per epoch appended to --out, with the task, method, seed, all
hyper-parameters, the dev metrics (fractions, not percent) and timings.

Example
  python torch_finetune.py --model-dir <HF model dir> --task CoLA --method freelb \\
      --adv-steps 3 --adv-lr 0.0375 --adv-init-mag 0.4 --adv-max-norm 0.3 \\
      --lr 5e-5 --batch-size 32 --epochs 3 --seed 1 --threads 2 --out results.jsonl
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
from torch import nn

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.join(SCRIPT_DIR, "..", "data", "glue")


# ----------------------------------------------------------------------------------------------
# Data: official GLUE TSV layouts (as `freelb download glue` writes them)
# ----------------------------------------------------------------------------------------------

# task -> (has header, text_a column, text_b column or None, label column, label kind, labels)
# label kind: "int" (already 0..C-1), "map" (strings mapped through `labels`), "float" (regression)
TASKS = {
    "CoLA": dict(header=False, a=3, b=None, y=1, kind="int", num_labels=2, metric="mcc"),
    "SST-2": dict(header=True, a=0, b=None, y=1, kind="int", num_labels=2, metric="acc"),
    "MRPC": dict(header=True, a=3, b=4, y=0, kind="int", num_labels=2, metric="f1"),
    "STS-B": dict(header=True, a=7, b=8, y=-1, kind="float", num_labels=1, metric="pearson"),
    "RTE": dict(header=True, a=1, b=2, y=-1, kind="map", labels=["entailment", "not_entailment"],
                num_labels=2, metric="acc"),
    "WNLI": dict(header=True, a=1, b=2, y=-1, kind="int", num_labels=2, metric="acc"),
}


def read_glue_split(data_dir, task, split):
    """Returns (text_a list, text_b list or None, labels list). Tab-separated, no quoting;
    utf-8-sig strips the BOM that MRPC carries; CoLA has no header."""
    spec = TASKS[task]
    path = os.path.join(data_dir, task, split + ".tsv")
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if spec["header"]:
        lines = lines[1:]
    text_a, text_b, labels = [], [], []
    ncols = None
    for i, line in enumerate(lines):
        cols = line.rstrip("\r").split("\t")
        if ncols is None:
            ncols = len(cols)
        elif len(cols) != ncols:
            raise ValueError(f"{task}/{split}.tsv line {i + 1 + spec['header']}: {len(cols)} columns, expected {ncols}")
        text_a.append(cols[spec["a"]])
        if spec["b"] is not None:
            text_b.append(cols[spec["b"]])
        raw = cols[spec["y"]]
        if spec["kind"] == "float":
            labels.append(float(raw))
        elif spec["kind"] == "map":
            labels.append(spec["labels"].index(raw))
        else:
            labels.append(int(raw))
    return text_a, (text_b if spec["b"] is not None else None), labels


class Encoded:
    """Tokenised split: unpadded id lists; `batch(indices)` pads to the longest in the batch."""

    def __init__(self, tokenizer, text_a, text_b, labels, max_len, regression):
        enc = tokenizer(text_a, text_b, truncation=True, max_length=max_len) if text_b is not None \
            else tokenizer(text_a, truncation=True, max_length=max_len)
        self.ids = enc["input_ids"]
        self.types = enc["token_type_ids"]
        self.labels = torch.tensor(labels, dtype=torch.float32 if regression else torch.long)
        self.pad_id = tokenizer.pad_token_id
        self.lengths = [len(x) for x in self.ids]

    def __len__(self):
        return len(self.ids)

    def batch(self, indices):
        T = max(self.lengths[i] for i in indices)
        B = len(indices)
        input_ids = torch.full((B, T), self.pad_id, dtype=torch.long)
        token_type_ids = torch.zeros((B, T), dtype=torch.long)
        attention_mask = torch.zeros((B, T), dtype=torch.long)
        for r, i in enumerate(indices):
            n = self.lengths[i]
            input_ids[r, :n] = torch.tensor(self.ids[i])
            token_type_ids[r, :n] = torch.tensor(self.types[i])
            attention_mask[r, :n] = 1
        return dict(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask,
                    labels=self.labels[list(indices)])


# ----------------------------------------------------------------------------------------------
# Metrics (official GLUE metrics; numpy only, same conventions as sklearn / scipy)
# ----------------------------------------------------------------------------------------------

def _rank_average(x):
    """Ranks 1..n with ties given their average rank (scipy.stats.rankdata 'average')."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def _pearson(x, y):
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    den = math.sqrt(float(np.sum(x * x)) * float(np.sum(y * y)))
    return float(np.sum(x * y) / den) if den > 0 else 0.0


def glue_metrics(task, preds, labels):
    if TASKS[task]["kind"] == "float":
        return {"pearson": _pearson(preds, labels), "spearman": _pearson(_rank_average(preds), _rank_average(labels))}
    p = np.asarray(preds)
    y = np.asarray(labels)
    out = {"acc": float(np.mean(p == y))}
    tp = float(np.sum((p == 1) & (y == 1)))
    tn = float(np.sum((p == 0) & (y == 0)))
    fp = float(np.sum((p == 1) & (y == 0)))
    fn = float(np.sum((p == 0) & (y == 1)))
    if task == "MRPC":
        out["f1"] = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else 0.0
    if task == "CoLA":
        den = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        out["mcc"] = (tp * tn - fp * fn) / den if den > 0 else 0.0  # sklearn returns 0 here
    return out


# ----------------------------------------------------------------------------------------------
# Dropout whose mask can be reused across the passes of one batch (spec section 5)
# ----------------------------------------------------------------------------------------------

class ReusableDropout(nn.Module):
    """Inverted dropout, y = x * mask with mask ~ Bernoulli(1-p) / (1-p), like nn.Dropout.
    When `reuse` is set and a mask is held, that mask is applied again instead of a new one."""

    def __init__(self, p):
        super().__init__()
        self.p = float(p)
        self.reuse = False
        self.mask = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if self.reuse and self.mask is not None:
            if self.mask.shape != x.shape:
                raise RuntimeError(f"reused dropout mask has shape {tuple(self.mask.shape)}, input {tuple(x.shape)}")
        else:
            self.mask = torch.empty_like(x).bernoulli_(1.0 - self.p).div_(1.0 - self.p)
        return x * self.mask

    def extra_repr(self):
        return f"p={self.p}"


class DropoutMasks:
    """Replaces every nn.Dropout in `model` with ReusableDropout and switches them together."""

    def __init__(self, model):
        self.modules = []
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Dropout):
                    rd = ReusableDropout(child.p)
                    setattr(parent, name, rd)
                    self.modules.append(rd)

    def sample(self):
        """The next forward pass draws fresh masks (and holds them)."""
        for m in self.modules:
            m.reuse = False

    def reuse(self):
        """The next forward pass applies the held masks again."""
        for m in self.modules:
            m.reuse = True

    def clear(self):
        """Drop the held masks (they belong to one batch)."""
        for m in self.modules:
            m.mask = None
            m.reuse = False


ATTN_NAME = "eager_reusable_dropout"


def eager_attention_module_dropout(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """HF BERT eager attention, except that attention-probability dropout is `module.dropout`
    (a ReusableDropout; identity in eval mode) instead of a functional dropout call."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = nn.functional.softmax(attn_weights, dim=-1)
    attn_weights = module.dropout(attn_weights)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


def register_attention():
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask
    AttentionInterface.register(ATTN_NAME, eager_attention_module_dropout)
    AttentionMaskInterface.register(ATTN_NAME, eager_mask)  # additive float mask, as for "eager"


# ----------------------------------------------------------------------------------------------
# Perturbation: init, ascent and projection (spec sections 3-4), L2 only
# ----------------------------------------------------------------------------------------------

def init_delta(attention_mask, d, mag, gen):
    """delta0_b = U(-1,1)^{T x d} * m_b * mag / sqrt(L_b * d); zeros when mag <= 0."""
    B, T = attention_mask.shape
    if mag <= 0:
        return torch.zeros(B, T, d)
    m = attention_mask.to(torch.float32).unsqueeze(2)
    u = torch.empty(B, T, d).uniform_(-1.0, 1.0, generator=gen)
    scale = mag / torch.sqrt(m.sum(dim=(1, 2)) * d)
    return u * m * scale.view(B, 1, 1)


def ascend_l2(delta, grad, adv_lr, max_norm):
    """delta_b += adv_lr * g_b / max(||g_b||_F, 1e-8); then, if max_norm > 0, rescale every
    delta_b with ||delta_b||_F > max_norm onto the sphere of radius max_norm."""
    B = delta.shape[0]
    gnorm = grad.reshape(B, -1).norm(dim=1).clamp(min=1e-8).view(B, 1, 1)
    delta = delta + adv_lr * grad / gnorm
    if max_norm > 0:
        dnorm = delta.reshape(B, -1).norm(dim=1).view(B, 1, 1)
        delta = torch.where(dnorm > max_norm, delta * (max_norm / dnorm), delta)
    return delta.detach()


# ----------------------------------------------------------------------------------------------
# One batch of each method; each returns the unscaled losses of its forward passes
# ----------------------------------------------------------------------------------------------

def forward_loss(model, batch, delta=None):
    """Loss with inputs_embeds = word_embeddings(ids) (+ delta), recomputed on every call so each
    pass has a fresh graph and the embedding matrix gets gradient from every pass."""
    embeds = model.bert.embeddings.word_embeddings(batch["input_ids"])
    if delta is not None:
        embeds = embeds + delta
    out = model(inputs_embeds=embeds, attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"], labels=batch["labels"])
    return out.loss


def vanilla_step(model, batch, args, masks, gen):
    masks.sample()
    loss = forward_loss(model, batch)
    loss.backward()
    return [loss.item()]


def freelb_step(model, batch, args, masks, gen):
    """Spec section 2: K passes on loss/K; parameter gradients accumulate over the passes."""
    K = args.adv_steps
    delta = init_delta(batch["attention_mask"], model.config.hidden_size, args.adv_init_mag, gen)
    losses = []
    for t in range(K):
        if t == 0 or not args.reuse_dropout_mask:
            masks.sample()
        else:
            masks.reuse()
        delta.requires_grad_()
        loss = forward_loss(model, batch, delta)
        (loss / K).backward()
        losses.append(loss.item())
        if t == K - 1:
            break  # the last delta gradient is not used
        delta = ascend_l2(delta.detach(), delta.grad.detach(), args.adv_lr, args.adv_max_norm)
    return losses


def pgd_step(model, batch, args, masks, gen):
    """Spec section 6: K ascent passes (delta gradient only), then one descent pass at delta_K."""
    K = args.adv_steps
    delta = init_delta(batch["attention_mask"], model.config.hidden_size, args.adv_init_mag, gen)
    losses = []
    for t in range(K + 1):
        if t == 0 or not args.reuse_dropout_mask:
            masks.sample()
        else:
            masks.reuse()
        if t == K:
            loss = forward_loss(model, batch, delta)
            loss.backward()
            losses.append(loss.item())
            break
        delta.requires_grad_()
        loss = forward_loss(model, batch, delta)
        (g,) = torch.autograd.grad(loss, [delta])
        losses.append(loss.item())
        delta = ascend_l2(delta.detach(), g, args.adv_lr, args.adv_max_norm)
    return losses


STEPS = {"vanilla": vanilla_step, "freelb": freelb_step, "pgd": pgd_step}


# ----------------------------------------------------------------------------------------------
# Evaluation, optimizer, training loop
# ----------------------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model, data, task, batch_size):
    model.eval()
    preds = []
    for s in range(0, len(data), batch_size):
        b = data.batch(range(s, min(s + batch_size, len(data))))
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                       token_type_ids=b["token_type_ids"]).logits
        preds.append(logits.squeeze(-1) if TASKS[task]["kind"] == "float" else logits.argmax(-1))
    model.train()
    preds = torch.cat(preds).numpy()
    return glue_metrics(task, preds, data.labels.numpy())


def make_optimizer(model, lr, weight_decay):
    no_decay = ("bias", "LayerNorm.weight")
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if not any(nd in n for nd in no_decay)], "weight_decay": weight_decay},
        {"params": [p for n, p in named if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def linear_warmup_decay(optimizer, warmup_steps, total_steps):
    def f(step):
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True, help="HF-format BERT directory (config.json, model.safetensors, tokenizer)")
    ap.add_argument("--task", required=True, choices=sorted(TASKS))
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="folder holding <TASK>/{train,dev}.tsv (default: data/glue of the repository, where `freelb download glue --data-dir data` puts it)")
    ap.add_argument("--method", choices=sorted(STEPS), default="vanilla")
    ap.add_argument("--adv-steps", type=int, default=3,
                    help="K = forward/backward passes per batch for FreeLB (FreeLB-K), ascent passes for PGD-K. "
                         "fairseq's --adv-steps N is K = N+1 here")
    ap.add_argument("--adv-lr", type=float, default=0.1, help="alpha, L2 ascent step size")
    ap.add_argument("--adv-init-mag", type=float, default=0.1, help="mu; E||delta0_b||_F = mu/sqrt(3)")
    ap.add_argument("--adv-max-norm", type=float, default=0.0, help="epsilon, per-example L2 radius; <= 0: no projection")
    ap.add_argument("--no-reuse-dropout-mask", dest="reuse_dropout_mask", action="store_false",
                    help="resample dropout masks on every pass (default: sample on pass 0, reuse after)")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--eval-batch-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--warmup-ratio", type=float, default=0.1, help="warmup steps = ceil(ratio * total steps)")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-grad-norm", type=float, default=1.0, help="0 disables clipping")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True, help="jsonl file; one line is appended per epoch")
    ap.add_argument("--limit-train-batches", type=int, default=0, help="smoke tests: batches per epoch (0 = all)")
    ap.add_argument("--limit-eval-examples", type=int, default=0, help="smoke tests: dev examples (0 = all)")
    ap.add_argument("--log-every", type=int, default=50, help="progress line on stderr every N batches (0 = off)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import transformers
    from transformers import AutoTokenizer, BertForSequenceClassification
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    register_attention()

    spec = TASKS[args.task]
    regression = spec["kind"] == "float"
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    train = Encoded(tok, *read_glue_split(args.data_dir, args.task, "train"), args.max_seq_length, regression)
    dev = Encoded(tok, *read_glue_split(args.data_dir, args.task, "dev"), args.max_seq_length, regression)
    if args.limit_eval_examples:
        n = args.limit_eval_examples
        dev.ids, dev.types, dev.lengths, dev.labels = dev.ids[:n], dev.types[:n], dev.lengths[:n], dev.labels[:n]

    torch.manual_seed(args.seed)  # classifier init and the dropout stream
    model = BertForSequenceClassification.from_pretrained(
        args.model_dir, num_labels=spec["num_labels"], attn_implementation=ATTN_NAME)
    model.train()
    masks = DropoutMasks(model)
    data_gen = torch.Generator().manual_seed(args.seed)          # shuffling
    adv_gen = torch.Generator().manual_seed(args.seed + 10007)   # delta init

    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    if args.limit_train_batches:
        steps_per_epoch = min(steps_per_epoch, args.limit_train_batches)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = math.ceil(total_steps * args.warmup_ratio)
    opt = make_optimizer(model, args.lr, args.weight_decay)
    sched = linear_warmup_decay(opt, warmup_steps, total_steps)
    step_fn = STEPS[args.method]

    parts = os.path.normpath(os.path.abspath(args.model_dir)).split(os.sep)
    hparams = {k: getattr(args, k) for k in (
        "lr", "batch_size", "epochs", "max_seq_length", "warmup_ratio", "weight_decay", "max_grad_norm",
        "adv_steps", "adv_lr", "adv_init_mag", "adv_max_norm", "reuse_dropout_mask", "threads")}
    if args.method == "vanilla":
        for k in ("adv_steps", "adv_lr", "adv_init_mag", "adv_max_norm", "reuse_dropout_mask"):
            hparams[k] = None
    base = {"task": args.task, "method": args.method, "seed": args.seed, "hparams": hparams,
            "model": "/".join(parts[-2:]), "attn": ATTN_NAME, "n_train": len(train), "n_dev": len(dev),
            "steps_per_epoch": steps_per_epoch, "warmup_steps": warmup_steps, "main_metric": spec["metric"],
            "limited": bool(args.limit_train_batches or args.limit_eval_examples),
            "torch": torch.__version__, "transformers": transformers.__version__}
    print(f"{args.task} {args.method} seed={args.seed}: {len(train)} train / {len(dev)} dev, "
          f"{steps_per_epoch} steps/epoch, warmup {warmup_steps}", file=sys.stderr, flush=True)

    t_start = time.time()
    global_step = 0
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(len(train), generator=data_gen).tolist()
        t0, ru0 = time.time(), resource.getrusage(resource.RUSAGE_SELF)
        loss_sum, first_loss_sum, padded_tokens, real_tokens, nonfinite = 0.0, 0.0, 0, 0, 0
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch_size:(s + 1) * args.batch_size]
            batch = train.batch(idx)
            opt.zero_grad(set_to_none=True)
            losses = step_fn(model, batch, args, masks, adv_gen)
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            opt.step()
            sched.step()
            masks.clear()
            global_step += 1
            if not all(map(math.isfinite, losses)):
                nonfinite += 1
            loss_sum += sum(losses) / len(losses)
            first_loss_sum += losses[0]
            padded_tokens += batch["input_ids"].numel()
            real_tokens += int(batch["attention_mask"].sum())
            if args.log_every and (s + 1) % args.log_every == 0:
                el = time.time() - t0
                print(f"  epoch {epoch} step {s + 1}/{steps_per_epoch} loss {loss_sum / (s + 1):.4f} "
                      f"{el / (s + 1):.3f} s/step", file=sys.stderr, flush=True)
        train_s = time.time() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        t1 = time.time()
        metrics = evaluate(model, dev, args.task, args.eval_batch_size)
        eval_s = time.time() - t1
        rec = dict(base, epoch=epoch, metrics=metrics, main=metrics[spec["metric"]],
                   train_loss=loss_sum / steps_per_epoch, train_loss_first_pass=first_loss_sum / steps_per_epoch,
                   nonfinite_batches=nonfinite, global_step=global_step,
                   epoch_train_s=round(train_s, 2), eval_s=round(eval_s, 2), wall_s=round(time.time() - t_start, 2),
                   s_per_step=round(train_s / steps_per_epoch, 4),
                   padded_tokens=padded_tokens, real_tokens=real_tokens,
                   cpu_util=round(cpu_s / train_s / args.threads, 3), loadavg=round(os.getloadavg()[0], 2),
                   peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1))
        with open(args.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"{args.task} {args.method} seed={args.seed} epoch {epoch}: {metrics} "
              f"train {train_s:.0f}s ({rec['s_per_step']:.3f} s/step, cpu {rec['cpu_util']:.2f}) eval {eval_s:.0f}s",
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
