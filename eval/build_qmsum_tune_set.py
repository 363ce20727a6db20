"""Build the QMSum tuning sets ``eval/sets/qmsum-tune-{choose,report}.jsonl`` and their split.

The 53 meetings of ``../shared/datasets/qmsum-tune/`` are split once, deterministically, by
meeting: within each domain the meetings (for Product, the AMI series: ES2006a-d are one team,
so one series never straddles the split) are ordered by the sha256 of their name and dealt
alternately to ``choose`` (every tuning decision, every fitted weight) and ``report`` (only
measured). ``eval/sets/qmsum-tune-split.json`` records the split.

Each set has the schema of ``eval/sets/seed.jsonl`` (see ``eval/README.md``):

* every QMSum query becomes an answerable question on its meeting, as in ``build_qmsum_set.py``
  (a query naming someone who never speaks in the meeting becomes an unanswerable
  ``absent_speaker`` question); ``kinds`` add the domain (``committee``, ``product``,
  ``academic``) so reports can be read per domain;
* three unanswerable questions per meeting, generated and checked against its transcript:
  ``unanswerable_topic`` (a topic none of whose words occur in the meeting, asked of the group
  or of the meeting's busiest speaker), ``absent_speaker`` (a person who never speaks in the
  meeting: a speaker of another meeting of the domain, or a made-up name) and ``moved``
  (a topic question of a meeting of another domain, none of whose specific words occur here).

A third set, ``qmsum-tune-gate.jsonl``, is the part of ``report`` on the two shortest meetings
(fewest turns) of each domain: small enough for ``make test`` to gate on it every time.

Usage: .venv/bin/python eval/build_qmsum_tune_set.py [--dataset DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.formats import read_transcript  # noqa: E402
from rag.formats.labels import canonical_speaker  # noqa: E402

DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "qmsum-tune"
SETS = ROOT / "eval" / "sets"
SPLITS = ("choose", "report")
GATE_MEETINGS_PER_DOMAIN = 2

# (topic as asked, words none of which may occur in the meeting)
OFF_TOPICS: list[tuple[str, tuple[str, ...]]] = [
    ("ice hockey arenas", ("hockey", "arena")),
    ("the Eurovision song contest", ("eurovision", "song")),
    ("volcanic eruptions", ("volcan", "erupt")),
    ("cryptocurrency mining", ("crypto", "bitcoin")),
    ("the price of saffron", ("saffron",)),
    ("dinosaur fossils", ("dinosaur", "fossil")),
    ("the chess world championship", ("chess",)),
    ("the migration of whales", ("whale",)),
    ("nuclear submarines", ("submarine", "nuclear")),
    ("Formula One racing", ("formula one", "racing")),
    ("wine tasting in Bordeaux", ("wine", "bordeaux")),
    ("the weather in Paris", ("weather", "paris")),
]
# Made-up people, for meetings whose speakers are roles.
INVENTED = ["Margaret Ellison", "Tomasz Kowalczyk", "Priya Raman", "Gordon Whitfield", "Ingrid Sorensen"]
# Words of a question that say nothing about its topic.
GENERIC = set(
    """summarize summarise summary discussion discuss discussed debate group team meeting talk talked
    think thought say said decide decided decision opinion opinions whole what when why how about
    during process their they them there would should could also other others like please describe
    mention mentioned reason reasons agree agreed member members committee""".split()
)
_WORD = re.compile(r"[a-z][a-z\-]{3,}")


def split_meetings(meetings: list[dict]) -> dict[str, str]:
    """``meeting -> choose|report``: per domain, groups ordered by sha256, dealt alternately."""
    assignment: dict[str, str] = {}
    for domain in sorted({m["domain"] for m in meetings}):
        groups: dict[str, list[str]] = {}
        for m in meetings:
            if m["domain"] == domain:
                key = m["meeting"][:6] if domain == "Product" else m["meeting"]
                groups.setdefault(key, []).append(m["meeting"])
        ordered = sorted(groups, key=lambda key: hashlib.sha256(key.encode()).hexdigest())
        for position, key in enumerate(ordered):
            for meeting in groups[key]:
                assignment[meeting] = SPLITS[position % 2]
    return assignment


def build(dataset: Path) -> tuple[dict[str, list[dict]], dict[str, str]]:
    meetings = json.loads((dataset / "meetings.json").read_text(encoding="utf-8"))["meetings"]
    domain_of = {m["meeting"]: m["domain"] for m in meetings}
    split = split_meetings(meetings)
    transcripts = {name: read_transcript(dataset / "transcripts" / f"{name}.txt") for name in domain_of}
    queries = [json.loads(line) for line in (dataset / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    rows: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for query in queries:
        transcript = transcripts[query["meeting"]]
        expected = [canonical_speaker(query["speaker"])] if query["names_speaker"] else []
        kinds = ["speaker_named" if query["names_speaker"] else "topic", domain_of[query["meeting"]].lower()]
        row = {
            "qid": f"tune-{query['qid']}", "document": query["meeting"], "question": query["query"],
            "answerable": True, "gold_turns": sorted(query["gold_turns"]), "expected_speakers": expected,
            "key_phrases": [], "kinds": kinds, "note": f"QMSum reference summary: {query['answer']}",
        }
        if any(speaker not in transcript.speakers for speaker in expected):
            row.update(answerable=False, gold_turns=[], expected_speakers=[], kinds=["absent_speaker", kinds[1]],
                       note=f"QMSum names {query['speaker']}, who does not speak in {query['meeting']}.")
        rows[split[query["meeting"]]].append(row)
    for number, name in enumerate(sorted(domain_of)):
        for row in _unanswerable(number, name, domain_of, transcripts, queries):
            rows[split[name]].append(row)
    gate = gate_meetings({n: d for n, d in domain_of.items() if split[n] == "report"},
                         {n: len(t.turns) for n, t in transcripts.items()})
    rows["gate"] = [row for row in rows["report"] if row["document"] in gate]
    return rows, split


def gate_meetings(domain_of: dict[str, str], turns: dict[str, int]) -> set[str]:
    """Per domain, the ``GATE_MEETINGS_PER_DOMAIN`` meetings with the fewest turns (ties by name)."""
    chosen: set[str] = set()
    for domain in sorted(set(domain_of.values())):
        meetings = sorted((turns[n], n) for n, d in domain_of.items() if d == domain)
        chosen.update(name for _, name in meetings[:GATE_MEETINGS_PER_DOMAIN])
    return chosen


def _unanswerable(number: int, name: str, domain_of: dict[str, str], transcripts: dict, queries: list[dict]) -> list[dict]:
    transcript = transcripts[name]
    lowered = transcript.text.lower()
    domain = domain_of[name]
    out = []

    def row(suffix: str, question: str, kind: str, note: str) -> dict:
        return {
            "qid": f"tune-unanswerable-{name}-{suffix}", "document": name, "question": question, "answerable": False,
            "gold_turns": [], "expected_speakers": [], "key_phrases": [], "kinds": [kind, domain.lower()], "note": note,
        }

    # A topic never raised, asked of the group or of the busiest speaker.
    topics = OFF_TOPICS[number % len(OFF_TOPICS):] + OFF_TOPICS[: number % len(OFF_TOPICS)]
    topic, absent_words = next((t, w) for t, w in topics if not any(word in lowered for word in w))
    labels = {t.speaker: t.label for n, t_ in transcripts.items() if domain_of[n] == domain for t in t_.turns}
    busiest = max(transcript.speakers, key=lambda s: sum(t.speaker == s for t in transcript.turns))
    who = _address(labels[busiest], domain)
    question = (f"What did {who} say about {topic}?" if number % 2 else f"Summarize the discussion about {topic}.")
    out.append(row("topic", question, "unanswerable_topic", f"{name} never mentions {' or '.join(absent_words)}."))

    # Someone who never speaks here, asked about what the meeting does discuss.
    others = sorted({s for n, t in transcripts.items() if domain_of[n] == domain and n != name for s in t.speakers})
    candidates = [s for s in others if s not in transcript.speakers and not _named_in(_address(labels[s], domain), lowered)]
    if domain == "Product" or not candidates:
        person = INVENTED[number % len(INVENTED)]
        canonical = person.upper()
    else:
        canonical = candidates[number % len(candidates)]
        person = _address(labels[canonical], domain)
    if _named_in(person, lowered):
        raise SystemExit(f"{name}: {person} is mentioned there")
    own = next((q for q in queries if q["meeting"] == name and not q["names_speaker"]), None)
    subject = _subject(own["query"]) if own else "the agenda"
    out.append(row("absent", f"What did {person} say about {subject}?", "absent_speaker",
                   f"{person} does not speak in {name} (nor is named there)."))

    # A topic question of a meeting of another domain whose specific words never occur here.
    words = set(_WORD.findall(lowered))
    for query in queries:
        if domain_of[query["meeting"]] == domain or query["names_speaker"] or (hash_of(query["qid"]) + number) % 3:
            continue
        specific = [w for w in _WORD.findall(query["query"].lower()) if w not in GENERIC]
        if len(specific) >= 2 and not any(w in words or w.rstrip("s") in words for w in specific):
            out.append(row("moved", query["query"], "moved",
                           f"QMSum {query['qid']} of {query['meeting']}; {name} has none of {', '.join(specific)}."))
            break
    return out


def _named_in(person: str, lowered: str) -> bool:
    """Whether any word of a person's name (titles aside) occurs in the meeting's text."""
    parts = [p.lower() for p in person.split() if len(p) > 2 and p.lower() not in {"the", "grad", "professor", "phd"}]
    return any(re.search(rf"\b{re.escape(part)}\b", lowered) for part in parts)


def hash_of(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _address(label: str, domain: str) -> str:
    """How a question names a speaker: 'the Project Manager', 'Marketing', 'Professor C', 'Lynne Neagle'."""
    name = re.sub(r"\s*\(.*$", "", label).title().replace("The Chair", "the Chair")
    name = re.sub(r"^(?:Hon|Mr|Mrs|Ms|Dr)\.?\s+", "", name)
    if domain == "Product" and name != "Marketing":
        return "the " + name
    return re.sub(r"\s+(Am|Mp|Ms)$", "", name)


def _subject(query: str) -> str:
    """The topic of a QMSum query: what follows its last 'about'/'of'/'on', else the query."""
    match = re.search(r"\b(?:about|of|on|regarding)\s+(.+?)[?.]?$", query)
    return match.group(1) if match else "the agenda"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    args = parser.parse_args()
    rows, split = build(args.dataset)
    (SETS / "qmsum-tune-split.json").write_text(json.dumps(dict(sorted(split.items())), indent=1) + "\n", encoding="utf-8")
    for name, part in rows.items():
        path = SETS / f"qmsum-tune-{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
        answerable = sum(r["answerable"] for r in part)
        meetings = sorted({r["document"] for r in part})
        print(f"wrote {len(part)} questions ({answerable} answerable, {len(part) - answerable} not) "
              f"on {len(meetings)} meetings to {path}")


if __name__ == "__main__":
    main()
