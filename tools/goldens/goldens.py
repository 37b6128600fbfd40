#!/usr/bin/env python3
"""Maps a fixture tree (the output of gen_fixtures.py and gen_fixtures_more.py) onto the test
resources of the repository.

    python tools/goldens/goldens.py install TREE   # copy the generated goldens into Tests/*/Resources
    python tools/goldens/goldens.py compare TREE   # compare them with the committed goldens

compare exits 1 when a committed golden differs from its regeneration by more than:
  * integers, strings, booleans, token ids, masks, names, shapes, dtypes: nothing (exact);
  * float tensors and JSON floats: 1e-6 x the largest magnitude of the tensor (or JSON number),
    ten times the 1e-7 relative agreement the generators promise across library versions;
  * version records (`versions`, `transformers_version`): ignored, and listed.
Run from the repository root.
"""
import json
import os
import shutil
import sys

import numpy as np
from safetensors import safe_open

# (path in the fixture tree, path in the repository). One tree file may feed several test targets.
GOLDENS = [
    ("minilm/config.json", "Tests/FreeLBTokenizersTests/Resources/minilm/config.json"),
    ("minilm/vocab.txt", "Tests/FreeLBTokenizersTests/Resources/minilm/vocab.txt"),
    ("minilm/tokenizer_config.json", "Tests/FreeLBTokenizersTests/Resources/minilm/tokenizer_config.json"),
    ("minilm/special_tokens_map.json", "Tests/FreeLBTokenizersTests/Resources/minilm/special_tokens_map.json"),
    ("minilm/forward.json", "Tests/FreeLBModelsTests/Resources/minilm/forward.json"),
    ("minilm/forward.safetensors", "Tests/FreeLBModelsTests/Resources/minilm/forward.safetensors"),
    ("minilm/forward.safetensors", "Tests/FreeLBSafetensorsTests/Resources/minilm-forward.safetensors"),
    ("tokenizer/minilm_tokenizer_cases.json", "Tests/FreeLBTokenizersTests/Resources/minilm_tokenizer_cases.json"),
    ("tokenizer-bpe/bpe_tokenizer_cases.json", "Tests/FreeLBTokenizersTests/Resources/bpe_tokenizer_cases.json"),
    ("tokenizer-bpe/merges.txt", "Tests/FreeLBTokenizersTests/Resources/bpe-vocab-merges/merges.txt"),
    ("tokenizer-bpe/vocab.json", "Tests/FreeLBTokenizersTests/Resources/bpe-vocab-merges/vocab.json"),
    ("tokenizer-bpe/tokenizer.json", "Tests/FreeLBTokenizersTests/Resources/bpe-tokenizer-json/tokenizer.json"),
    ("tiny-bert/model.safetensors", "Tests/FreeLBSafetensorsTests/Resources/tiny-bert-model.safetensors"),
]
for model in ["tiny-bert", "tiny-bert-regression", "tiny-bert-multiple-choice", "tiny-roberta", "tiny-albert"]:
    for name in ["config.json", "model.safetensors", "batch.json", "forward_backward.safetensors"]:
        GOLDENS.append((f"{model}/{name}", f"Tests/FreeLBModelsTests/Resources/{model}/{name}"))
for model in ["tiny-bert", "tiny-roberta"]:
    for name in ["config.json", "model.safetensors", "batch.json"]:
        GOLDENS.append((f"{model}/{name}", f"Tests/FreeLBTests/Resources/{model}/{name}"))
TRAIN_STEPS = {
    "tiny-bert": [f"{m}_{o}" for m in ["vanilla", "freelb_l2", "freelb_l2_noproj", "freelb_linf_sign",
                                       "freelb_linf_maxnorm", "pgd_l2", "freeat_l2"] for o in ["sgd", "adamw"]],
    "tiny-roberta": ["freelb_l2_sgd"],
}
for model, runs in TRAIN_STEPS.items():
    for name in ["index.json", "delta_init.safetensors"] + [r + ".safetensors" for r in runs]:
        GOLDENS.append((f"{model}/train_steps/{name}", f"Tests/FreeLBTests/Resources/{model}/train_steps/{name}"))

RELATIVE = 1e-6
VERSION_KEYS = {"versions", "transformers_version"}


def install(tree):
    for source, target in GOLDENS:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(tree, source), target)
    print(f"installed {len(GOLDENS)} goldens from {tree}")


class Report:
    def __init__(self):
        self.failures, self.ignored, self.worst = [], [], (0.0, "")

    def close(self, where, a, b):
        """Float agreement scaled by the largest magnitude; records the worst ratio seen."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        scale = max(float(np.max(np.abs(a))) if a.size else 0.0, 1e-30)
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            self.failures.append(f"{where}: NaN positions differ")
            return
        ratio = diff / scale
        if ratio > self.worst[0]:
            self.worst = (ratio, where)
        if ratio > RELATIVE:
            self.failures.append(f"{where}: max |diff| {diff:.3g} = {ratio:.3g} x max |value| (limit {RELATIVE:g})")


def compare_safetensors(path, committed, regenerated, report):
    with safe_open(committed, "np") as a, safe_open(regenerated, "np") as b:
        if a.metadata() != b.metadata():
            report.failures.append(f"{path}: metadata {a.metadata()} != {b.metadata()}")
        if sorted(a.keys()) != sorted(b.keys()):
            report.failures.append(f"{path}: tensor names differ: {sorted(set(a.keys()) ^ set(b.keys()))}")
            return
        for key in a.keys():
            x, y = a.get_tensor(key), b.get_tensor(key)
            if x.dtype != y.dtype or x.shape != y.shape:
                report.failures.append(f"{path}:{key}: {x.dtype}{list(x.shape)} != {y.dtype}{list(y.shape)}")
            elif np.issubdtype(x.dtype, np.floating):
                report.close(f"{path}:{key}", x, y)
            elif not np.array_equal(x, y):
                report.failures.append(f"{path}:{key}: integer values differ")


def compare_json(where, a, b, report):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in VERSION_KEYS:
                if a.get(key) != b.get(key):
                    report.ignored.append(f"{where}.{key}: {a.get(key)} -> {b.get(key)}")
            elif key not in a or key not in b:
                report.failures.append(f"{where}: key '{key}' only in one of them")
            else:
                compare_json(f"{where}.{key}", a[key], b[key], report)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            report.failures.append(f"{where}: {len(a)} != {len(b)} entries")
        elif a and all(isinstance(v, float) for v in a + b):
            report.close(where, a, b)
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                compare_json(f"{where}[{i}]", x, y, report)
    elif isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        report.close(where, [a], [b])
    elif a != b or type(a) is not type(b):
        report.failures.append(f"{where}: {str(a)[:80]!r} != {str(b)[:80]!r}")


def compare(tree):
    report = Report()
    identical = 0
    for source, target in GOLDENS:
        regenerated = os.path.join(tree, source)
        with open(target, "rb") as f, open(regenerated, "rb") as g:
            if f.read() == g.read():
                identical += 1
                continue
        if target.endswith(".safetensors"):
            compare_safetensors(target, target, regenerated, report)
        elif target.endswith(".json"):
            compare_json(target, json.load(open(target, encoding="utf-8")), json.load(open(regenerated, encoding="utf-8")), report)
        else:
            report.failures.append(f"{target}: text differs from {regenerated}")
    print(f"{len(GOLDENS)} committed goldens: {identical} byte-identical to the regeneration, "
          f"{len(GOLDENS) - identical} compared within tolerance")
    print(f"largest float difference: {report.worst[0]:.3g} x max |value| ({report.worst[1] or 'none'})")
    for line in report.ignored:
        print("version record only:", line)
    for line in report.failures:
        print("MISMATCH", line)
    print("goldens match the regeneration" if not report.failures else f"{len(report.failures)} mismatches")
    return 1 if report.failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("install", "compare"):
        sys.exit(__doc__)
    if sys.argv[1] == "install":
        install(sys.argv[2])
    else:
        sys.exit(compare(sys.argv[2]))
