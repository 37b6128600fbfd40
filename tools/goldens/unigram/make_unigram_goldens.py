#!/usr/bin/env python3
"""Golden cases for the Swift SentencePiece Unigram tokenizer (FreeLBTokenizers/Unigram*.swift).

1. Trains two small SentencePiece Unigram models (nmt_nfkc) on GLUE train sentences:
   `albert` (ALBERT special pieces, vocab 1000) and `albert-byte-fallback` (same, byte_fallback=True).
2. Converts each to tokenizer.json with transformers' AlbertConverter applied to
   AlbertTokenizer(vocab_file=...) (a subclass with handle_byte_fallback=True for the second model),
   and saves the folder with save_pretrained.
3. Checks the converted tokenizer against sentencepiece's own encode on every case (after ALBERT's
   own pre-processing: quote replacement, NFKD, accent stripping, lowercasing) and records the agreement.
4. Writes ids, type ids, attention masks, tokens and decoded text for every case to
   unigram_tokenizer_cases.json.

Usage: python make_unigram_goldens.py --glue ../shared/data/glue --out Tests/FreeLBTokenizersTests/Resources
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import unicodedata

import sentencepiece as spm
import tokenizers
import transformers
from transformers import AlbertTokenizer
from transformers.convert_slow_tokenizer import AlbertConverter, SpmConverter, XLMRobertaConverter, import_protobuf


class AlbertByteFallbackConverter(AlbertConverter):
    handle_byte_fallback = True


def glue_sentences(glue):
    """SST-2, CoLA and RTE train sentences (text columns only), in file order."""
    out = []
    with open(os.path.join(glue, "SST-2", "train.tsv"), encoding="utf-8") as f:
        for line in f.read().split("\n")[1:]:
            if line:
                out.append(line.split("\t")[0])
    with open(os.path.join(glue, "CoLA", "train.tsv"), encoding="utf-8") as f:
        for line in f.read().split("\n"):
            cols = line.split("\t")
            if len(cols) >= 4:
                out.append(cols[3])
    with open(os.path.join(glue, "RTE", "train.tsv"), encoding="utf-8") as f:
        for line in f.read().split("\n")[1:]:
            cols = line.split("\t")
            if len(cols) >= 3:
                out += [cols[1], cols[2]]
    return out


def train(sentences, prefix, vocab_size, byte_fallback, rule="nmt_nfkc", albert_pieces=True):
    """ALBERT's piece layout (<pad>, <unk>, [CLS], [SEP], [MASK]) or sentencepiece's (<unk>, <s>, </s>)."""
    pieces = dict(pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"]) \
        if albert_pieces else {}
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=prefix, vocab_size=vocab_size, model_type="unigram",
        normalization_rule_name=rule, character_coverage=0.9995, byte_fallback=byte_fallback,
        num_threads=1, seed_sentencepiece_size=200000, shuffle_input_sentence=False, minloglevel=2, **pieces)
    return prefix + ".model"


def albert_preprocess(text):
    """ALBERT's slow-tokenizer pre-processing, without the whitespace collapsing (sentencepiece does that)."""
    text = text.replace("``", '"').replace("''", '"')
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.lower()


SINGLE_TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "",
    " ",
    "   leading and trailing   ",
    "multiple     spaces   inside",
    "tabs\tand\nnewlines\r\nmixed",
    "\r\n",
    "\n\n\n",
    "Café résumé naïve façade",
    "ÀÉÎÕÜ àéîõü ÇçÑñ Øø Åå",
    "e\u0301 combining acute, x\u0301\u0302 two marks",
    "ＦｕｌｌｗｉｄｔｈＡＢＣ １２３ ！？",
    "① ② ⅷ ﬁ ﬂ ㎏ ™ ½ ｶﾀｶﾅ ﾊﾞ",
    "这是一个测试。東京タワー 한국어",
    "I love 🍕 and 👨‍👩‍👧 family 🇫🇷 👍🏽",
    "a\u0000b\u0007c\u001bd\u007fe",
    "zero\u200bwidth\u200cjoin\u200dx\ufeffy",
    "``quoted'' and \"double\" and 'single'",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x" * 300,
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 4,
    "Zxqvwj kjhgf Ωμέγα Привет мир",
    "In 1999, 3,000 people paid $12.50 (about 45%).",
    "1,000,000 and 2,5 and 7,",
    "Hello!!! What??? ...and... --- ;;",
    "SHOUTING LOUDLY",
    "[CLS] hello [SEP] world [MASK] done",
    "hello[MASK]world",
    "<unk> <pad> literal",
    "İstanbul ß ẞ ﬀ Σίσυφος ΣΑΣ",
    "\u00a0nbsp\u2003em\u3000ideographic space",
    "naïve café — “smart quotes” ‘single’ … ellipsis",
    "a",
    "▁",
    "▁▁x ▁y",
    "한 글",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "x² + y³ = z⁴ ∑∫√",
    "\U0001d400\U0001d401 math bold",
    "สวัสดีครับ",
    "Ǆ ǅ ǆ",
    "it's a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    "The film is strictly routine .",
    "Our friends won't buy this analysis, let alone the next one we propose.",
    "No Weapons of Mass Destruction Found in Iraq Yet.",
    "\t\t  \u3000 ",
    "end with space ",
    "ｈｅｌｌｏ　ｗｏｒｌｄ",
    "ＡＢＣ",
    "Ⅻ ㍿ ㌔",
    "<0x41> literal byte piece",
    # Characters newer than Unicode 9.0 (the tables HF normalizes with) and category changes since then.
    "new: \ua7f2 \u32ff a\u0898\u0316 x\u07fd\u0301 \u1cf2 \U000111c9 \U00011f3f",
    "\U000119de \ufe0f\u01ea \u3000\U000297cf\ufe0f X\U0001f3fd\U0001f3fd \u0331r",
]

PAIRS = [
    ("No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction Found in Iraq.", None, "longest_first"),
    ("A place of sorrow, after Pope John Paul II died, became a place of celebration.",
     "Pope Benedict XVI is the new leader of the Roman Catholic Church.", None, "longest_first"),
    ("A place of sorrow, after Pope John Paul II died, became a place of celebration, as Roman Catholic "
     "faithful gathered in downtown Chicago to mark the installation of new Pope Benedict XVI.",
     "Pope Benedict XVI is the new leader of the Roman Catholic Church.", 24, "longest_first"),
    ("short one", "Pope Benedict XVI is the new leader of the Roman Catholic Church in Chicago today.", 16,
     "longest_first"),
    ("The cat sat on the mat for a very long time indeed.", "The dog barked loudly at the cat all night.", 17,
     "longest_first"),
    ("The cat sat on the mat for a very long time indeed.", "The dog barked.", 12, "only_first"),
    ("The cat.", "The dog barked loudly at the cat all night long.", 12, "only_second"),
    ("Café naïve", "ＦｕｌｌｗｉｄｔｈＡＢＣ 🍕", None, "longest_first"),
    ("", "second only", None, "longest_first"),
    ("first only", "", None, "longest_first"),
    ("hello [MASK] world", "[SEP] again", None, "longest_first"),
    ("x" * 80, "y" * 80, 20, "longest_first"),
]

SINGLE_TRUNCATED = [
    ("The quick brown fox jumps over the lazy dog, again and again and again.", 10),
    ("supercalifragilisticexpialidocious", 6),
    ("Hello world", 2),
]


class RustReference:
    """The tokenizers library running the tokenizer.json file as written (what the Swift loader reads)."""
    empty_pair = "encode_empty_segment"  # the Rust library encodes an empty second segment

    def __init__(self, folder):
        self.backend = tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))

    def encode(self, text, pair, max_length, truncation):
        tk = tokenizers.Tokenizer.from_str(self.backend.to_str())
        if max_length is not None:
            tk.enable_truncation(max_length, strategy=truncation)
        try:
            enc = tk.encode(text) if pair is None else tk.encode(text, pair)
        except Exception as error:  # only_first / only_second cannot absorb the cut: left untruncated
            assert "Truncation error" in str(error), error
            tk.no_truncation()
            enc = tk.encode(text) if pair is None else tk.encode(text, pair)
        return enc.ids, enc.type_ids, enc.attention_mask

    def padded_batch(self, texts):
        tk = tokenizers.Tokenizer.from_str(self.backend.to_str())
        pad = "<pad>" if tk.token_to_id("<pad>") is not None else "<unk>"
        tk.enable_padding(pad_id=tk.token_to_id(pad), pad_token=pad)
        encs = tk.encode_batch(texts)
        return [e.ids for e in encs], [e.attention_mask for e in encs]


class TransformersReference:
    """transformers' AlbertTokenizer loaded from the folder (its own Python-side handling of pairs)."""
    empty_pair = "treat_as_absent"  # the wrapper drops an empty text_pair

    def __init__(self, folder):
        self.tok = transformers.AutoTokenizer.from_pretrained(folder)
        # A copy: transformers leaves its truncation settings on its own backend object.
        self.backend = tokenizers.Tokenizer.from_str(self.tok.backend_tokenizer.to_str())

    def encode(self, text, pair, max_length, truncation):
        kwargs = {"max_length": max_length, "truncation": truncation} if max_length is not None else {}
        enc = self.tok(text, pair, return_token_type_ids=True, **kwargs)
        return enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]

    def padded_batch(self, texts):
        batch = self.tok(texts, padding=True)
        return batch["input_ids"], batch["attention_mask"]


def case_record(ref, spm_ids, text, pair, max_length, truncation):
    ids, type_ids, mask = ref.encode(text, pair, max_length, truncation)
    raw = ref.backend.encode(text) if pair is None else ref.backend.encode(text, pair)
    plain = ref.backend.encode(text, add_special_tokens=False)
    reference = spm_ids(text)
    return {
        "text": text,
        "text_pair": pair,
        "max_length": max_length,
        "truncation": truncation if max_length is not None else None,
        "input_ids": ids,
        "token_type_ids": type_ids,
        "attention_mask": mask,
        "untruncated_tokens": raw.tokens,
        "untruncated_ids": raw.ids,
        "ids_without_special_tokens": plain.ids,
        "decoded": ref.backend.decode(ids, skip_special_tokens=True),
        "decoded_with_special_tokens": ref.backend.decode(ids, skip_special_tokens=False),
        "sentencepiece_agrees": reference == plain.ids,
        "sentencepiece_ids": reference if reference != plain.ids else None,
    }


def save_converted(name, model_file, converter_class, out_dir):
    """AlbertConverter output (the pipeline the issue describes), saved with save_pretrained."""
    slow = AlbertTokenizer(vocab_file=model_file)
    backend = converter_class(slow).converted()
    folder = os.path.join(out_dir, name)
    shutil.rmtree(folder, ignore_errors=True)
    AlbertTokenizer(tokenizer_object=backend).save_pretrained(folder)
    return folder


def save_as_transformers_runs_it(name, converted_folder, out_dir):
    """transformers 5 rebuilds ALBERT's pipeline when it loads (WhitespaceSplit + Metaspace, no final
    Replace, byte_fallback off); saving that tokenizer writes the pipeline it really runs."""
    folder = os.path.join(out_dir, name)
    shutil.rmtree(folder, ignore_errors=True)
    transformers.AutoTokenizer.from_pretrained(converted_folder).save_pretrained(folder)
    return folder


def save_backend(name, backend, out_dir):
    """A converter's tokenizers object written as it is (no transformers wrapper)."""
    folder = os.path.join(out_dir, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    backend.save(os.path.join(folder, "tokenizer.json"))
    return folder


def albert_spm_ids(model_file):
    sp = spm.SentencePieceProcessor(model_file=model_file)
    return lambda text: sp.encode(albert_preprocess(text))


def xlmr_spm_ids(model_file):
    """fairseq's XLM-R id layout: <s> <pad> </s> <unk>, then sentencepiece's pieces from id 3 shifted by one."""
    sp = spm.SentencePieceProcessor(model_file=model_file)
    return lambda text: [3 if i == sp.unk_id() else i + 1 for i in sp.encode(text)]


def plain_spm_ids(model_file):
    sp = spm.SentencePieceProcessor(model_file=model_file)
    return lambda text: sp.encode(text)


def golden_set(folder, ref, spm_ids):
    cases = []
    for text in SINGLE_TEXTS:
        cases.append(case_record(ref, spm_ids, text, None, None, None))
    for text, max_length in SINGLE_TRUNCATED:
        cases.append(case_record(ref, spm_ids, text, None, max_length, "longest_first"))
    for text, pair, max_length, truncation in PAIRS:
        cases.append(case_record(ref, spm_ids, text, pair, max_length, truncation))
    ids, mask = ref.padded_batch(SINGLE_TEXTS[:4])
    disagreements = [c["text"] for c in cases if not c["sentencepiece_agrees"]]
    return {"folder": os.path.basename(folder), "reference": type(ref).__name__, "empty_pair": ref.empty_pair,
            "vocab_size": ref.backend.get_vocab_size(), "cases": cases,
            "padded_batch": {"texts": SINGLE_TEXTS[:4], "input_ids": ids, "attention_mask": mask},
            "sentencepiece_disagreements": disagreements}


def compact_json(value, depth=0):
    """JSON with one line per case (small file, readable diffs)."""
    pad = " " * depth
    if isinstance(value, dict) and depth < 4:
        items = [f'{pad} {json.dumps(k)}: {compact_json(v, depth + 1).lstrip()}' for k, v in value.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and isinstance(value[0], dict) and depth < 4:
        items = [compact_json(v, depth + 1) for v in value]
        return pad + "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return pad + json.dumps(value, ensure_ascii=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--glue", default="../shared/data/glue")
    parser.add_argument("--out", default="Tests/FreeLBTokenizersTests/Resources")
    parser.add_argument("--vocab-size", type=int, default=1000)
    parser.add_argument("--check", action="store_true",
                        help="write into a temporary folder and compare byte for byte with --out (exit 1 on a difference)")
    args = parser.parse_args()
    committed = args.out
    if args.check:
        args.out = tempfile.mkdtemp()
    sentences = glue_sentences(args.glue)
    work = tempfile.mkdtemp()
    plain = train(sentences, os.path.join(work, "albert"), args.vocab_size, False)
    fallback = train(sentences, os.path.join(work, "albert-bf"), args.vocab_size, True)
    converted = save_converted("unigram-albert", plain, AlbertConverter, args.out)
    converted_bf = save_converted("unigram-albert-byte-fallback", fallback, AlbertByteFallbackConverter, args.out)
    as_run = save_as_transformers_runs_it("unigram-albert-transformers", converted, args.out)
    # Vocabulary 100, the size of the tiny ALBERT fixture (Tests/FreeLBModelsTests/Resources/tiny-albert),
    # for the CLI end-to-end test (Tests/FreeLBCLITests/AlbertUnigramEndToEndTests.swift).
    tiny = train(sentences, os.path.join(work, "albert-100"), 100, False)
    tiny_converted = save_converted("unigram-albert-100-converted", tiny, AlbertConverter, work)
    save_as_transformers_runs_it("unigram-albert-100", tiny_converted, args.out)
    # XLM-R's converter, and sentencepiece's own pipeline as transformers rebuilds it for models without a
    # converter (regex Replace steps, Metaspace without split, ByteFallback/Fuse/Strip decoders); both on
    # identity-normalised models, which have no charsmap and keep the files small.
    xlmr_model = train(sentences, os.path.join(work, "xlmr"), 600, False, rule="identity", albert_pieces=False)
    xlmr = save_backend("unigram-xlmr", XLMRobertaConverter(transformers.XLMRobertaTokenizer(vocab_file=xlmr_model))
                        .converted(), args.out)
    generic_model = train(sentences, os.path.join(work, "generic"), 600, True, rule="identity", albert_pieces=False)
    proto = import_protobuf().ModelProto()
    with open(generic_model, "rb") as f:
        proto.ParseFromString(f.read())
    generic = save_backend("unigram-spm-byte-fallback", SpmConverter.build_tokenizer_from_spm_proto(
        proto, [(p.piece, p.score) for p in proto.pieces]), args.out)
    sets = [golden_set(converted, RustReference(converted), albert_spm_ids(plain)),
            golden_set(converted_bf, RustReference(converted_bf), albert_spm_ids(fallback)),
            golden_set(as_run, TransformersReference(as_run), albert_spm_ids(plain)),
            golden_set(xlmr, RustReference(xlmr), xlmr_spm_ids(xlmr_model)),
            golden_set(generic, RustReference(generic), plain_spm_ids(generic_model))]
    # The third folder's file, run by the tokenizers library, must give what transformers gives.
    rust_view = RustReference(as_run)
    for c in sets[2]["cases"]:
        if c["text_pair"] != "":
            assert rust_view.encode(c["text"], c["text_pair"], c["max_length"], c["truncation"])[0] == c["input_ids"], c["text"]
    result = {
        "versions": {"sentencepiece": spm.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__},
        "corpus": f"{len(sentences)} GLUE train sentences (SST-2, CoLA, RTE)",
        "models": sets,
    }
    with open(os.path.join(args.out, "unigram_tokenizer_cases.json"), "w", encoding="utf-8") as f:
        f.write(compact_json(result))
    for m in result["models"]:
        print(m["folder"], m["reference"], "cases:", len(m["cases"]), "sentencepiece disagreements:", len(m["sentencepiece_disagreements"]))
        for t in m["sentencepiece_disagreements"]:
            print("   ", repr(t[:60]))
    if args.check:
        differing = []
        for folder, _, files in os.walk(args.out):
            for name in files:
                fresh = os.path.join(folder, name)
                relative = os.path.relpath(fresh, args.out)
                old = os.path.join(committed, relative)
                if not os.path.exists(old) or open(old, "rb").read() != open(fresh, "rb").read():
                    differing.append(relative)
        print("check:", "all generated files match the committed ones" if not differing else f"differ: {differing}")
        sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
