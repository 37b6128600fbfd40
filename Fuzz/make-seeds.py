#!/usr/bin/env python3
"""Writes the seed corpora Fuzz/corpus/<target>/: small valid files and slightly broken ones.

Run from the repository root. GLUE / ARC / CommonsenseQA samples and the fixture files are taken
from ../shared when it exists (only at generation time; the committed corpus is self-contained).
"""
import json
import os
import struct
from pathlib import Path

ROOT = Path("Fuzz/corpus")
SHARED = Path("../shared")


def put(target, name, content):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(content if isinstance(content, bytes) else content.encode())


# --- safetensors -------------------------------------------------------------------------------
def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, offset, data = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


f32 = lambda *v: struct.pack("<%df" % len(v), *v)
put("safetensors", "empty", safetensors([]))
put("safetensors", "metadata-only", safetensors([], {"format": "pt"}))
put("safetensors", "all-dtypes", safetensors([
    ("f32", "F32", [2, 3], f32(0, 1, -1, 1e-30, 3.4e38, -0.0)),
    ("f16", "F16", [4], struct.pack("<4H", 0x3C00, 0x7C00, 0x7E00, 0x0001)),
    ("bf16", "BF16", [2, 2], struct.pack("<4H", 0x3F80, 0xFF80, 0x7FC1, 0x0001)),
    ("f64", "F64", [3], struct.pack("<3d", 1.0, 1e300, float("nan"))),
    ("i64", "I64", [1, 4], struct.pack("<4q", 0, 1, 2, -1)),
    ("i32", "I32", [2], struct.pack("<2i", 7, -7)),
    ("i16", "I16", [1], struct.pack("<h", -2)),
    ("u16", "U16", [1], struct.pack("<H", 65535)),
    ("u32", "U32", [1], struct.pack("<I", 2**32 - 1)),
    ("u64", "U64", [1], struct.pack("<Q", 2**64 - 1)),
    ("u8", "U8", [3], b"\x00\x7f\xff"),
    ("i8", "I8", [2], b"\x80\x7f"),
    ("bool", "BOOL", [2], b"\x00\x01"),
    ("f8", "F8_E4M3", [2], b"\x38\xff"),
    ("f8b", "F8_E5M2", [1], b"\x3c"),
], {"format": "pt"}))
put("safetensors", "scalar-and-empty", safetensors([
    ("scalar", "F32", [], f32(2.5)), ("empty", "F32", [0, 3], b""), ("zero", "I64", [3, 0], b""),
]))
put("safetensors", "bert-names", safetensors([
    ("bert.embeddings.word_embeddings.weight", "F32", [3, 2], f32(*range(6))),
    ("bert.embeddings.LayerNorm.weight", "F32", [2], f32(1, 1)),
    ("embeddings.position_ids", "I64", [1, 2], struct.pack("<2q", 0, 1)),
    ("classifier.weight", "F32", [2, 2], f32(1, 0, 0, 1)),
    ("pooler.dense.bias", "F16", [2], struct.pack("<2H", 0, 0x3C00)),
]))
put("safetensors", "unpadded-header", safetensors([("x", "F32", [1], f32(1))], pad=False))
good = safetensors([("a", "F32", [2], f32(1, 2)), ("b", "F32", [1], f32(3))])
put("safetensors", "broken-truncated", good[:-3])
put("safetensors", "broken-trailing-bytes", good + b"\x00" * 4)
put("safetensors", "broken-header-length", struct.pack("<Q", 2**63) + good[8:])
put("safetensors", "broken-overlap", struct.pack("<Q", 88) +
    b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'[:88] + f32(1))
hdr = b'{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}'
put("safetensors", "broken-shape-overflow", struct.pack("<Q", len(hdr)) + hdr)
hdr = b'{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}'
put("safetensors", "broken-dtype", struct.pack("<Q", len(hdr)) + hdr + b"\x00")
put("safetensors", "broken-short", b"\x08\x00\x00")
delta = SHARED / "fixtures/tiny-bert/train_steps/delta_init.safetensors"   # written by the Python safetensors library
if delta.exists():
    put("safetensors", "pytorch-delta-init", delta.read_bytes())

# --- config.json -------------------------------------------------------------------------------
for model in ["minilm", "tiny-bert", "tiny-albert", "tiny-roberta", "tiny-bert-regression"]:
    p = SHARED / "fixtures" / model / "config.json"
    if p.exists():
        put("config", model, p.read_bytes())
base = {"model_type": "bert", "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16}
put("config", "minimal", json.dumps(base))
for name, change in [
    ("roberta-negative-pad", {"model_type": "roberta", "pad_token_id": -3}),
    ("negative-layers", {"num_hidden_layers": -1}),
    ("negative-labels", {"num_labels": -3}),
    ("huge-vocab", {"vocab_size": 1e12}),
    ("huge-intermediate", {"intermediate_size": 2**40}),
    ("id2label", {"id2label": {"0": "neg", "1": "pos", "7": "x"}, "problem_type": "single_label_classification"}),
    ("albert", {"model_type": "albert", "embedding_size": 4, "num_hidden_groups": 1, "inner_group_num": 1,
                "hidden_act": "gelu_new", "classifier_dropout_prob": 0.1}),
    ("strings-for-numbers", {"hidden_size": "8", "layer_norm_eps": True}),
    ("floats", {"hidden_dropout_prob": 1e39, "initializer_range": -0.0, "layer_norm_eps": 1e-400}),
]:
    put("config", name, json.dumps({**base, **change}))
put("config", "not-an-object", "[1, 2, 3]")
put("config", "truncated", json.dumps(base)[:40])

# --- tokenizer.json ----------------------------------------------------------------------------
words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "hello", "world", "##s", "##ing", "!", ",", "."]
added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
          "special": True} for i, t in enumerate(words[:5])]
template = {
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
             {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
             {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
    "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for i, t in [(2, "[CLS]"), (3, "[SEP]")]},
}
wordpiece = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                   "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": template,
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(words)}},
}
put("tokenizer-json", "wordpiece", json.dumps(wordpiece))
put("tokenizer-json", "wordpiece-no-normalizer", json.dumps({**wordpiece, "normalizer": None, "post_processor": None}))
huge = json.loads(json.dumps(wordpiece)); huge["model"]["vocab"]["big"] = 10**9
put("tokenizer-json", "wordpiece-huge-id", json.dumps(huge))
neg = json.loads(json.dumps(wordpiece)); neg["added_tokens"].append({**added[0], "id": -5, "content": "<neg>"})
put("tokenizer-json", "wordpiece-negative-added-id", json.dumps(neg))
put("tokenizer-json", "no-model", json.dumps({"added_tokens": []}))
put("tokenizer-json", "truncated", json.dumps(wordpiece)[:150])
bpe = Path("Tests/FreeLBTokenizersTests/Resources/bpe-tokenizer-json/tokenizer.json")
if bpe.exists():
    put("tokenizer-json", "bpe-roberta", bpe.read_bytes())
    b = json.loads(bpe.read_text())
    b["model"]["vocab"] = dict(list(b["model"]["vocab"].items())[:80])
    b["model"]["merges"] = b["model"]["merges"][:20]
    put("tokenizer-json", "bpe-small", json.dumps(b))
for name in ["unigram-albert", "unigram-albert-byte-fallback"]:
    p = Path("Tests/FreeLBTokenizersTests/Resources") / name / "tokenizer.json"
    if p.exists():
        u = json.loads(p.read_text())
        u["model"]["vocab"] = u["model"]["vocab"][:150]
        if u.get("normalizer") and u["normalizer"].get("type") == "Sequence":   # the 320 kB Precompiled map stays out
            u["normalizer"]["normalizers"] = [n for n in u["normalizer"]["normalizers"] if n["type"] != "Precompiled"]
        put("tokenizer-json", name, json.dumps(u))

# --- vocab.txt ---------------------------------------------------------------------------------
vocab = "\n".join(words + ["un", "##aff", "##able", "東", "京", "é", "##é"]) + "\n"
put("vocab-txt", "small", vocab)
put("vocab-txt", "crlf", vocab.replace("\n", "\r\n"))
put("vocab-txt", "bom", "\ufeff" + vocab)
put("vocab-txt", "no-unk", vocab.replace("[UNK]\n", ""))
put("vocab-txt", "duplicates-and-blanks", vocab + "the\n\n  \n[PAD]\n")
put("vocab-txt", "no-final-newline", vocab.rstrip("\n"))
put("vocab-txt", "invalid-utf8", vocab.encode() + b"\xff\xfe\xc3\n")
mini = SHARED / "fixtures/minilm/vocab.txt"
if mini.exists():
    put("vocab-txt", "minilm-head", "".join(mini.read_text().splitlines(True)[:120]))

# --- GLUE TSV: "<task> <split>\n" then the file ------------------------------------------------
glue = SHARED / "data/glue"
for task, folder, files in [("cola", "CoLA", ["train", "test"]), ("sst2", "SST-2", ["train", "test"]),
                            ("mrpc", "MRPC", ["train", "test"]), ("stsb", "STS-B", ["train", "test"]),
                            ("qnli", "QNLI", ["dev", "test"]), ("rte", "RTE", ["dev", "test"]),
                            ("wnli", "WNLI", ["train", "test"])]:
    for split in files:
        p = glue / folder / f"{split}.tsv"
        if p.exists():
            head = b"".join(p.read_bytes().splitlines(True)[:4])
            put("glue-tsv", f"{task}-{split}", f"{task} {split}\n".encode() + head)
put("glue-tsv", "qqp-train", "qqp train\nid\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
    "1\t3\t4\tHow do I learn Swift?\tWhat is the best way to learn Swift?\t1\n2\t5\t6\tWhy?\tWhy not?\t0\n")
mnli_header = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t" \
              "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
put("glue-tsv", "mnli-dev_mismatched", "mnli dev_mismatched\n" + mnli_header +
    "0\t1\t1n\tfiction\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tA man sleeps.\tA man is awake.\tcontradiction\tcontradiction\n")
put("glue-tsv", "ax-test", "ax test\nindex\tsentence1\tsentence2\n0\tThe cat sat.\tA cat sat.\n")
put("glue-tsv", "stsb-huge-score", "stsb train\nindex\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\t"
    "sentence2\tscore\n0\tmain\tx\t2012\t1\tnone\tnone\tA plane takes off.\tAn air plane is taking off.\t1e30\n"
    "1\tmain\tx\t2012\t2\tnone\tnone\tA man.\tA woman.\tnan\n")
put("glue-tsv", "rte-bad-label", "rte train\nindex\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n")
put("glue-tsv", "rte-ragged-crlf", "rte dev\r\nindex\tsentence1\tsentence2\tlabel\r\n0\ta\tentailment\r\n1\tx\ty\tentailment\r\n")
put("glue-tsv", "sst2-header-only", "sst2 dev\nsentence\tlabel\n")

# --- ARC / CommonsenseQA: JSONL, and ARC's CSV --------------------------------------------------
for name, p in [("arc-challenge-dev", "arc/ARC-Challenge/ARC-Challenge-Dev.jsonl"),
                ("arc-easy-train", "arc/ARC-Easy/ARC-Easy-Train.jsonl"),
                ("csqa-dev", "commonsenseqa/dev_rand_split.jsonl"),
                ("csqa-test", "commonsenseqa/test_rand_split_no_answers.jsonl"),
                ("arc-easy-dev-csv", "arc/ARC-Easy/ARC-Easy-Dev.csv")]:
    p = SHARED / "data" / p
    if p.exists():
        put("mc-jsonl", name, b"".join(p.read_bytes().splitlines(True)[:3]))
q = {"id": "q1", "question": {"stem": "Which is a planet?", "choices": [
    {"label": "1", "text": "Mars"}, {"label": "2", "text": "the Moon"}, {"label": "3", "text": 3}]}, "answerKey": "1"}
put("mc-jsonl", "numeric-labels", json.dumps(q) + "\n\n" + json.dumps({**q, "id": "q2", "answerKey": None}) + "\n")
put("mc-jsonl", "answer-not-a-label", json.dumps({**q, "answerKey": "E"}) + "\n")
put("mc-jsonl", "one-choice", json.dumps({**q, "question": {"stem": "x", "choices": [{"label": "A", "text": "y"}]}}) + "\n")
put("mc-jsonl", "not-an-object", '["a", 1]\n{"id": 1}\n')
put("mc-jsonl", "arc-csv-quoted", 'questionID,AnswerKey,question\n"q,1",B,"Which ""one""? (A) x (B) y\nz (C) w"\n')
