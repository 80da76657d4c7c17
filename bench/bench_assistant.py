"""Benchmark of the customer-service assistant on the public support data (../shared/data).

Trains the three intent models of the nightly stage on its split of Bitext + CLINC150 out-of-scope
(the pretrained n-gram network, the same network without pretraining, TF-IDF + logistic regression),
pretraining on the support utterances plus the item descriptions of UCI Online Retail II (the shop's
own text), and prints per model: test intent accuracy, macro F1, out-of-scope recall and precision,
in-scope messages rejected, the threshold chosen on validation, training time and the p95 time to
understand one message, and the accuracy on the probe (tests/assistant/probe.csv: common customer
phrasings written for the project, never trained on nor used to choose a threshold or a model); then the
selected model's threshold trade-off and the slot F1.

The built-in support examples (config/assistant-support-examples.csv: everyday phrasings written for the
project, none a probe message) are added to the training messages as the nightly stage adds them;
``--no-examples`` leaves them out (the figures before they existed).

Usage: python bench/bench_assistant.py [--seed 42] [--epochs 30] [--pretrain-epochs 8] [--no-titles]
       [--no-examples]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("ECOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
SUPPORT = SHARED / "customer-service"
RETAIL = SHARED / "online-retail-ii" / "online_retail_II_2009-2010.csv.gz"
log = logging.getLogger("bench_assistant")


def titles() -> list[str]:
    if not RETAIL.exists():
        log.warning("%s is absent: pretraining on the support utterances only", RETAIL)
        return []
    frame = pd.read_csv(RETAIL, usecols=["Description"], dtype="string")
    return sorted(set(frame["Description"].dropna().str.strip().str.lower()))


def p95_ms(predict, texts: list[str]) -> float:
    times = []
    for text in texts:
        started = time.perf_counter()
        predict([text])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 95))


def main() -> int:
    from ecom_tasks.assistant import data, metrics, slots, train
    from ecom_tasks.assistant.config import DEFAULT_PROBE, AssistantConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=AssistantConfig.epochs)
    parser.add_argument("--pretrain-epochs", type=int, default=AssistantConfig.pretrain_epochs)
    parser.add_argument("--no-titles", action="store_true", help="pretrain on the utterances only")
    parser.add_argument("--no-examples", action="store_true", help="train without the built-in examples")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (SUPPORT / "bitext_customer_support_train.csv").exists():
        log.error("support data not found at %s", SUPPORT)
        return 1
    config = AssistantConfig(support_data=str(SUPPORT), seed=args.seed, epochs=args.epochs,
                             pretrain_epochs=args.pretrain_epochs)  # fmt: skip
    support = data.load(str(SUPPORT))
    frame = support.frame
    split = data.split(frame, config.seed, config.valid_share, config.test_share)
    probe = data.read_messages(DEFAULT_PROBE)
    added = 0
    if not args.no_examples:
        examples = data.read_messages(str(config.support_examples))
        frame, split, added = data.add_to_training(frame, split, examples, probe[data.TEXT].tolist())
    shop_text = [] if args.no_titles else titles()
    started = time.perf_counter()
    trained = train.train_models(frame, split, shop_text, config)
    total = time.perf_counter() - started
    test = frame[split == data.TEST]
    texts = test[data.TEXT].tolist()[:300]
    print(f"\nsplit: {dict(pd.Series(split).value_counts())} (built-in examples in train: {added}); "
          f"shop titles for pretraining: {len(shop_text)}")  # fmt: skip
    print(f"training (pretraining + fine-tuning + baselines): {total:.1f} s; selected: {trained.selected}")
    print(f"{trained.selection}\n")
    keys = ("intent_accuracy", "intent_macro_f1", "oos_recall", "oos_precision", "in_scope_rejected")
    print("| model | " + " | ".join(keys) + " | probe accuracy | threshold | train s | p95 ms |")
    print("|---" * (len(keys) + 5) + "|")
    for name, c in trained.candidates.items():
        figures = " | ".join(f"{c.test[k]:.4f}" for k in keys)
        probe_probs = c.predict(probe[data.TEXT].tolist())
        on_probe = metrics.probe_accuracy(
            probe_probs, trained.labels, c.threshold, probe[data.INTENT].to_numpy(), "oos"
        )
        print(f"| {name} | {figures} | {on_probe:.4f} | {c.threshold:.2f} | {c.seconds:.1f} | "
              f"{p95_ms(c.predict, texts):.2f} |")  # fmt: skip
        decided, _ = metrics.decide(probe_probs, trained.labels, c.threshold, "oos")
        missed = [
            f"{t!r} -> {d}"
            for t, d, g in zip(probe[data.TEXT], decided, probe[data.INTENT], strict=True)
            if d != g
        ]
        log.info("%s misses on the probe: %s", name, "; ".join(missed))
    chosen = trained.candidates[trained.selected]
    print(f"\nthreshold trade-off of {trained.selected} (validation):")
    print("| threshold | in-scope accuracy | in-scope rejected | OOS recall |\n|---|---|---|---|")
    for row in chosen.tradeoff:
        print(f"| {row['threshold']:.2f} | {row['intent_accuracy']:.4f} | {row['in_scope_rejected']:.4f} | "
              f"{row['oos_recall']:.4f} |")  # fmt: skip
    words = slots.gazetteer(frame[split == data.TRAIN])
    inside = test[test[data.INTENT] != "oos"]
    f1 = slots.f1(slots.gold(inside), [slots.extract(t, words) for t in inside[data.TEXT]])
    print(f"\nslot exact-match F1 (test, in-scope): {f1:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
