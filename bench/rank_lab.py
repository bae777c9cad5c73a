#!/usr/bin/env python3
"""Where the ranking's weights come from: every candidate's evidence, dumped once, re-ranked offline.

    python bench/rank_lab.py dump --dataset dbrd-hadoop [--protocol standard] [--home DIR]
    python bench/rank_lab.py fit [--train dev] [--datasets dbrd-hadoop,dbrd-hdfs,dbrd-hive,sa-threads]
    python bench/rank_lab.py eval [--split test] [--weights fused=1.2,words=2,...]

``dump`` opens (or imports, once) the dataset's store under ``--home`` (default
bench/data/.homes), runs every query of both splits in the three query forms (report, title,
one-line) through ``HistoryStore.retrieve`` and keeps, for each candidate the ranking reads
(servers/paii_history/evidence.py), its evidence and whether it is a true match, in
bench/data/.lab/<dataset>-<protocol>.pkl. ``fit`` fits the logistic model of evidence.py on the
candidates of the ``--train`` split (class-balanced, so a score is the likelihood at even odds) and
prints the weights; ``eval`` re-ranks every dumped query with given weights (default: the ones in
evidence.py) and prints success@5 (recall@5) and MRR@10 per dataset, protocol, split and form,
next to the order of the fused z-scores alone (the ranking before ec98263's tiers).

The service and signature weights are not fitted here: the benchmark reports name no services.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "servers"))

import datasets as bench_datasets  # noqa: E402
from retrieval import _forms, load_jsonl, standard_protocol  # noqa: E402

LAB = bench_datasets.DATA / ".lab"
FEATURES = ("fused", "words", "title_words", "cosine", "signature")
FORMS = ("report", "title", "one-line")
DUMP_FORMS = ("report", "title")  # one-line ranks like report (within a point on every set): not dumped, to save time


def dump(args) -> None:
    from paii_history import retrieve as retrieve_mod
    from paii_history.config import HistorySettings
    from paii_history.store import HistoryStore

    data_dir = bench_datasets.ensure(args.dataset, bench_datasets.DATA)
    standard = args.protocol == "standard"
    home = (args.home or bench_datasets.DATA / ".homes") / f"{args.dataset}-{args.protocol}"
    home.mkdir(parents=True, exist_ok=True)
    queries = {s: load_jsonl(data_dir / f"queries-{s}.jsonl") for s in args.splits.split(",")}
    store = HistoryStore(HistorySettings.load(home=home / "store", warmup=False))
    filed_before = relevant_of = None
    if standard:
        more, filed_before, relevant_of = standard_protocol(data_dir, home / "duplicates.jsonl")
    if not store.kw.count():
        store.import_jsonl(data_dir / "corpus.jsonl", category="incidents", allow_duplicates=True)
        if standard:
            store.import_jsonl(more, category="incidents", allow_duplicates=True)
    store.ensure_ready()
    dup_ids = {q["qid"] for s in queries.values() for q in s}
    captured: dict = {}
    original = retrieve_mod.RetrievalMixin._evidence

    def spy(self, text, order, fused, vec_hits, service, **kw):
        ev, brief = original(self, text, order, fused, vec_hits, service, **kw)
        captured["c"] = [(i, ev[i], brief[i][2]) for i in order if i in ev]
        return ev, brief

    retrieve_mod.RetrievalMixin._evidence = spy
    out = []
    for split, qs in queries.items():
        if standard:
            qs = [q for q in qs if relevant_of(q)]
        for form in DUMP_FORMS:
            for q in _forms(qs, form):
                store.retrieve(q["text"], k=60 if standard else 10, categories=["incidents"])
                rel = relevant_of(q) if standard else set(q["relevant"])
                cands = []
                for i, ev, created in captured.pop("c", []):
                    allowed = (i in filed_before(q, [i])) if standard else (i not in dup_ids)
                    if allowed:
                        cands.append((i, i in rel, created, ev.fused, ev.words, ev.title_words,
                                      ev.cosine if ev.cosine is not None else 0.3, ev.signature, ev.same))
                out.append({"split": split, "form": form, "qid": q["qid"], "cands": cands, "n_rel": len(rel)})
        print(f"{args.dataset} {args.protocol} {split}: {len(qs)} queries", file=sys.stderr)
    LAB.mkdir(parents=True, exist_ok=True)
    path = LAB / f"{args.dataset}-{args.protocol}{'' if args.splits == 'dev,test' else '-' + args.splits}.pkl"
    path.write_bytes(pickle.dumps(out))
    print(f"wrote {path}", file=sys.stderr)
    store.close()


def _load(names: list[str]) -> dict[str, list]:
    out = {}
    for name in names:
        for p in sorted(LAB.glob(f"{name}*.pkl")):  # <set>-<protocol>[-<splits>].pkl
            out[p.stem] = pickle.loads(p.read_bytes())
    return out


def _matrix(cands) -> np.ndarray:
    return np.array([[c[3], c[4], c[5], c[6], c[7]] for c in cands], dtype=float).reshape(-1, len(FEATURES))


BALANCED = False  # True: a score is the likelihood at even odds; False: the chance this candidate is the match
KINDS = {"hybrid": (0, 1, 2, 3, 4), "keyword": (0, 1, 2, 4), "vector": (0, 3)}  # features each kind of search has


def rank_of_first(q, w: np.ndarray | None, b: float = 0.0) -> int | None:
    cands = q["cands"]
    if not cands:
        return None
    x = _matrix(cands)
    key = x[:, 0] if w is None else x @ w + b  # None: fused z-scores alone
    created = np.array([c[2] for c in cands])
    order = np.lexsort((-created, -key))
    for r, j in enumerate(order[:10], 1):
        if cands[j][1]:
            return r
    return None


def evaluate(data: dict[str, list], w, split: str) -> dict:
    res = {}
    for name, qs in data.items():
        for form in FORMS:
            sel = [q for q in qs if q["split"] == split and q["form"] == form]
            if not sel:
                continue
            ranks = [rank_of_first(q, w) for q in sel]
            res[(name, form)] = (round(sum(r is not None and r <= 5 for r in ranks) / len(ranks), 4),
                                 round(sum(1 / r for r in ranks if r) / len(ranks), 4), len(ranks))
    return res


def fit(data: dict[str, list], split: str, l2: float = 1.0, top: int = 50, cols=(0, 1, 2, 3, 4)) -> tuple[np.ndarray, float]:
    """Class-balanced logistic regression (Newton's method) on the best ``top`` candidates of each
    query, over the features ``cols`` (the others weigh 0)."""
    xs, ys = [], []
    for qs in data.values():
        for q in qs:
            if q["split"] != split or not q["cands"]:
                continue
            cands = q["cands"][:top]
            xs.append(_matrix(cands))
            ys.append(np.array([c[1] for c in cands], dtype=float))
    x, y = np.vstack(xs)[:, list(cols)], np.concatenate(ys)
    x1 = np.hstack([x, np.ones((len(x), 1))])
    sw = (np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9)) if BALANCED
          else np.ones(len(y)))
    beta = np.zeros(x1.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x1 @ beta)))
        g = x1.T @ (sw * (p - y)) + l2 * np.r_[beta[:-1], 0]
        h = (x1 * (sw * p * (1 - p))[:, None]).T @ x1 + l2 * np.diag(np.r_[np.ones(len(beta) - 1), 0])
        step = np.linalg.solve(h, g)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    w = np.zeros(len(FEATURES))
    w[list(cols)] = beta[:-1]
    return w, beta[-1]


def scores_report(data: dict[str, list], w: np.ndarray, b: float, cap: float = 0.99) -> None:
    """How the fitted score separates, per threshold: of the top hits over it, how many are true matches;
    of the queries whose true match is in the top 5, how many have it over the threshold."""
    for split in ("dev", "test"):
        top, true5 = [], []
        for qs in data.values():
            for q in qs:
                if q["split"] != split or not q["cands"]:
                    continue
                sc = cap / (1 + np.exp(-(_matrix(q["cands"]) @ w + b)))
                order = np.argsort(-sc)
                top.append((sc[order[0]], q["cands"][order[0]][1]))
                true5 += [sc[j] for j in order[:5] if q["cands"][j][1]][:1]
        for t in (0.2, 0.3, 0.4, 0.5, 0.6):
            over = [ok for s, ok in top if s >= t]
            print(f"{split} threshold {t}: top hits over it {len(over)} of {len(top)}, true {sum(over)}; "
                  f"true matches in the top 5 over it {sum(s >= t for s in true5)} of {len(true5)}")


def _print(res_a: dict, res_b: dict, label_a: str, label_b: str) -> None:
    print(f"{'set':28s} {'form':9s} {'n':>4s}  {label_a:>16s}  {label_b:>16s}")
    pooled = {}
    for key in res_a:
        a, b = res_a[key], res_b[key]
        print(f"{key[0]:28s} {key[1]:9s} {a[2]:4d}  {a[0]:.3f} ({a[1]:.3f})   {b[0]:.3f} ({b[1]:.3f})")
        p = pooled.setdefault((key[0].split("-")[-1], key[1]), [0, 0, 0])
        p[0] += a[0] * a[2]
        p[1] += b[0] * b[2]
        p[2] += a[2]
    for (proto, form), (a, b, n) in sorted(pooled.items()):
        print(f"pooled {proto:21s} {form:9s} {n:4d}  {a / n:.3f}            {b / n:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmd", choices=("dump", "fit", "eval"))
    ap.add_argument("--dataset", default="dbrd-hadoop")
    ap.add_argument("--protocol", default="standard", choices=("standard", "strict"))
    ap.add_argument("--home", type=Path)
    ap.add_argument("--datasets", default="dbrd-hadoop,dbrd-hdfs,dbrd-hive")
    ap.add_argument("--splits", default="dev,test", help="dump: the splits to run")
    ap.add_argument("--train", default="dev")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--weights", default="", help="fused=..,words=..,title_words=..,cosine=..,signature=..,b=..")
    ap.add_argument("--l2", type=float, default=1.0)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args)
        return
    names = [f"{d}-{p}" for d in args.datasets.split(",") for p in ("standard", "strict")]
    data = _load(names)
    if args.cmd == "fit":
        for kind, cols in KINDS.items():
            w, b = fit(data, args.train, args.l2, cols=cols)
            print(f'    "{kind}": ({b:.3f}, {w[0]:.3f}, {w[1]:.3f}, {w[2]:.3f}, {w[3]:.3f}, {w[4]:.3f}),')
            if kind != "hybrid":
                continue
            for split in ("dev", "test"):
                print(f"\n== {split}")
                _print(evaluate(data, None, split), evaluate(data, w, split), "fused only", "fitted")
            scores_report(data, w, b)
        return
    from paii_history import evidence as E

    given = dict(kv.split("=") for kv in args.weights.split(",") if kv)
    w = np.array([float(given.get("fused", E.FUSED_WEIGHT)), float(given.get("words", E.WORDS_WEIGHT)),
                  float(given.get("title_words", E.TITLE_WORDS_WEIGHT)), float(given.get("cosine", E.COSINE_WEIGHT)),
                  float(given.get("signature", E.SIGNATURE_WEIGHT))])
    _print(evaluate(data, None, args.split), evaluate(data, w, args.split), "fused only", "weights")


if __name__ == "__main__":
    main()
