#!/usr/bin/env python3
"""Checks a run folder of the ALBERT + Unigram end-to-end test in transformers (run once, by hand).

    FREELB_KEEP_ALBERT_RUN=/tmp/albert-run swift test --filter AlbertUnigramEndToEndTests
    venv/bin/python tools/goldens/unigram/verify_albert_run.py /tmp/albert-run/run

Loads RUN/final with AlbertTokenizerFast and AlbertForSequenceClassification (needs torch), encodes the
test's RTE rows, and compares with RUN/swift_reference.json (written by the Swift test from the same
folder): token ids, type ids and masks must be equal, logits within 1e-5.
"""
import json
import os
import sys

import torch
import transformers
from transformers import AlbertForSequenceClassification, AlbertTokenizerFast


def main(run):
    final = os.path.join(run, "final")
    with open(os.path.join(run, "swift_reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    tok = AlbertTokenizerFast.from_pretrained(final)
    enc = tok(ref["texts"], ref["text_pairs"], max_length=ref["max_length"], truncation="longest_first",
              padding=True, return_token_type_ids=True)
    for key in ["input_ids", "token_type_ids", "attention_mask"]:
        assert enc[key] == ref[key], f"{key} differ:\n{enc[key]}\n{ref[key]}"
    model = AlbertForSequenceClassification.from_pretrained(final).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(enc["input_ids"]), token_type_ids=torch.tensor(enc["token_type_ids"]),
                       attention_mask=torch.tensor(enc["attention_mask"])).logits
    diff = (logits - torch.tensor(ref["logits"])).abs().max().item()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}: {len(ref['texts'])} pairs, "
          f"{sum(len(r) for r in enc['input_ids'])} token ids identical, max |logit difference| = {diff:.3g}")
    assert diff <= 1e-5, diff
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1])
