"""Whether the retrieved passages cover a question: evidence features and a small learned model.

The decision is a logistic model over features the answerer computes anyway (dense and
lexical scores of the passages, rare words of the question found in them, words unknown to
the corpus, a speaker restriction, agreement of the dense and BM25 rankings). Its weights,
feature names and threshold live in a versioned JSON file (``refusal/model.json`` in the
package, fitted by ``eval/fit_refusal.py``), so the decision can be read and refitted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from rag.errors import RefusalModelError
from rag.models import Passage
from rag.retrieval.lexical import BM25Index, content_terms, query_terms, unknown_share

MODEL_FORMAT = "verbatim-refusal/1"
PACKAGED_MODEL = "refusal"
MODEL_FILE = "model.json"

# The features, in the order the model file lists them.
FEATURES: tuple[str, ...] = (
    "dense_best",
    "dense_mean",
    "overlap_best",
    "overlap_union",
    "rare_found",
    "unknown_share",
    "restricted",
    "rank_agreement",
    "dense_best_restricted",
)


def evidence_features(
    topic: str, passages: Sequence[Passage], vocabulary: BM25Index, known: Container[str], *, restricted: bool
) -> dict[str, float]:
    """What the passages say about covering ``topic``, as named numbers (``FEATURES``).

    ``topic`` is the question as searched (the "who" taken out when a speaker filter holds it);
    ``vocabulary`` is the BM25 index of the whole corpus (for rare words); ``known`` holds the
    content terms of the documents searched: a word none of them uses cannot be answered there.
    """
    dense = sorted(((p.dense_score or 0.0) for p in passages), reverse=True)
    wanted = set(query_terms(topic))
    texts = [set(content_terms(p.chunk.text)) for p in passages]
    overlaps = [len(wanted & terms) / len(wanted) for terms in texts] if wanted else [0.0]
    union = set().union(*texts) if texts else set()
    rare = vocabulary.rare_terms(topic)
    both = sum(1 for p in passages if "dense" in p.ranks and "bm25" in p.ranks)
    best = dense[0] if dense else 0.0
    return {
        "dense_best": best,
        "dense_mean": sum(dense[:3]) / len(dense[:3]) if dense else 0.0,
        "overlap_best": max(overlaps),
        "overlap_union": len(wanted & union) / len(wanted) if wanted else 0.0,
        # No rare word asked: neither evidence for nor against (0.5, the midpoint).
        "rare_found": len(rare & union) / len(rare) if rare else 0.5,
        # ``unknown_share`` only asks ``term in known``: a set of the searched documents' terms will do.
        "unknown_share": unknown_share(topic, known),
        "restricted": float(restricted),
        "rank_agreement": both / len(passages) if passages else 0.0,
        # Asked of one speaker, closeness in meaning has to be closer (see ``rag.answering.answerer``).
        "dense_best_restricted": best * float(restricted),
    }


@dataclass(frozen=True)
class RefusalModel:
    """A logistic model: P(covered) = sigmoid(bias + sum(weight * (x - mean) / scale))."""

    version: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    means: tuple[float, ...]
    scales: tuple[float, ...]
    threshold: float
    # Where the weights came from (fit script, rows, L2, figures on the fitting split).
    provenance: Mapping[str, object]

    def probability(self, features: Mapping[str, float]) -> float:
        """P(the passages cover the question) for one row of features.

        :raises RefusalModelError: a feature the model needs is missing from ``features``.
        """
        missing = [name for name in self.features if name not in features]
        if missing:
            raise RefusalModelError(f"features missing for the refusal model: {', '.join(missing)}")
        z = self.bias + sum(
            w * (features[name] - m) / s for name, w, m, s in zip(self.features, self.weights, self.means, self.scales)
        )
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def covers(self, features: Mapping[str, float]) -> bool:
        """Whether to answer: the probability reaches the model's threshold."""
        return self.probability(features) >= self.threshold

    def to_json(self) -> dict[str, object]:
        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "features": list(self.features),
            "weights": list(self.weights),
            "bias": self.bias,
            "means": list(self.means),
            "scales": list(self.scales),
            "threshold": self.threshold,
            "provenance": dict(self.provenance),
        }


def parse_refusal_model(data: object, source: str) -> RefusalModel:
    """A ``RefusalModel`` from the decoded JSON of a model file.

    :raises RefusalModelError: not this format, or its fields are missing or inconsistent.
    """
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise RefusalModelError(f"{source}: not a refusal model (expected format {MODEL_FORMAT!r})")
    try:
        features = tuple(str(name) for name in data["features"])
        weights = tuple(float(w) for w in data["weights"])
        means = tuple(float(m) for m in data["means"])
        scales = tuple(float(s) for s in data["scales"])
        model = RefusalModel(
            version=str(data["version"]), features=features, weights=weights, bias=float(data["bias"]),
            means=means, scales=scales, threshold=float(data["threshold"]),
            provenance=dict(data.get("provenance") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RefusalModelError(f"{source}: malformed refusal model: {exc}") from exc
    if not len(features) == len(weights) == len(means) == len(scales):
        raise RefusalModelError(f"{source}: features, weights, means and scales differ in length")
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise RefusalModelError(f"{source}: features this version does not compute: {', '.join(sorted(unknown))}")
    if any(scale <= 0 or not math.isfinite(scale) for scale in scales) or not 0.0 < model.threshold < 1.0:
        raise RefusalModelError(f"{source}: scales must be positive and the threshold between 0 and 1")
    return model


def load_refusal_model(path: Path | None = None) -> RefusalModel:
    """The refusal model at ``path``, or the one shipped with the package.

    :raises RefusalModelError: the file is missing, not JSON, or not a refusal model.
    """
    source: Path | Traversable = path if path is not None else files(PACKAGED_MODEL) / MODEL_FILE
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise RefusalModelError(f"cannot read the refusal model {source}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RefusalModelError(f"{source}: not JSON: {exc}") from exc
    return parse_refusal_model(data, str(source))
