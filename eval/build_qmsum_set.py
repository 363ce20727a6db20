"""Build ``eval/sets/qmsum.jsonl`` from the QMSum committee validation split.

The set has the schema of ``eval/sets/seed.jsonl`` (see ``eval/README.md``):

* every QMSum query becomes an answerable question on its meeting, with the annotated gold
  turns (except a query naming someone who never speaks in the meeting: that one is kept as
  an unanswerable ``absent_speaker`` question, since quoting others as them is the failure);
  ``expected_speakers`` is the canonical name of the speaker the query names (none when it
  names nobody); ``key_phrases`` stay empty because QMSum answers are summaries, not quotes;
* the hand-written questions below are unanswerable: a topic the meeting never raises, or a
  person who never speaks in it. Each is checked against the transcript before it is written:
  none of its ``absent`` words may occur in the meeting (case-insensitive), and a person the
  question names must (topic questions) or must not (absent speakers) be one of its speakers.

Usage: .venv/bin/python eval/build_qmsum_set.py [--dataset DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.formats import read_transcript  # noqa: E402
from rag.formats.labels import canonical_speaker  # noqa: E402

DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "qmsum-committee-val"
DEFAULT_OUT = ROOT / "eval" / "sets" / "qmsum.jsonl"

# (meeting, question, kind, person the question names or None, words absent from the meeting)
UNANSWERABLE: list[tuple[str, str, str, str | None, tuple[str, ...]]] = [
    ("covid_2", "What did the members say about ice hockey arenas?", "unanswerable_topic", None, ("hockey",)),
    ("covid_2", "What was said about legalizing cannabis?", "unanswerable_topic", None, ("cannabis", "marijuana")),
    ("covid_2", "What did Vaughan Gething say about the wage subsidy?", "absent_speaker", "VAUGHAN GETHING",
     ("Gething",)),
    ("covid_6", "What did Donald Trump say about Canadian exports?", "absent_speaker", "DONALD TRUMP", ("Trump",)),
    ("covid_6", "What did the Prime Minister say about nuclear power plants?", "unanswerable_topic",
     "JUSTIN TRUDEAU", ("nuclear",)),
    ("education_0", "What did Vaughan Gething say about university tuition fees?", "unanswerable_topic",
     "VAUGHAN GETHING", ("tuition",)),
    ("education_0", "What did the committee discuss about childhood obesity?", "unanswerable_topic", None,
     ("obesity",)),
    ("education_10", "What did Bethan Owen say about bullying in schools?", "unanswerable_topic", "BETHAN OWEN",
     ("bullying",)),
    ("education_10", "What did Justin Trudeau say about university research funding?", "absent_speaker",
     "JUSTIN TRUDEAU", ("Trudeau",)),
    ("education_18", "What did Kirsty Williams say about smoking bans?", "unanswerable_topic", "KIRSTY WILLIAMS",
     ("smoking",)),
    ("education_18", "What did Boris Johnson say about teacher pay?", "absent_speaker", "BORIS JOHNSON",
     ("Boris", "Johnson")),
    ("education_22", "What did Huw Irranca-Davies say about dental services?", "unanswerable_topic",
     "HUW IRRANCA-DAVIES", ("dental", "dentist")),
    ("education_22", "What did Kirsty Williams say about the childcare offer?", "absent_speaker", "KIRSTY WILLIAMS",
     ("Kirsty",)),
    ("education_22", "What was said about electric cars?", "unanswerable_topic", None, ("electric",)),
]


def build(dataset: Path) -> list[dict]:
    """Every row of the set: QMSum's queries in file order, then the unanswerable questions."""
    transcripts = {path.stem: read_transcript(path) for path in sorted((dataset / "transcripts").glob("*.txt"))}
    rows = []
    for line in (dataset / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        query = json.loads(line)
        transcript = transcripts[query["meeting"]]
        expected = [canonical_speaker(query["speaker"])] if query["names_speaker"] else []
        if not set(query["gold_turns"]) <= set(range(len(transcript.turns))):
            raise SystemExit(f"{query['qid']}: a gold turn is outside {transcript.id}")
        absent = [speaker for speaker in expected if speaker not in transcript.speakers]
        if absent:
            rows.append(_misattributed(query, absent[0]))
            continue
        rows.append({
            "qid": f"qmsum-{query['qid']}",
            "document": query["meeting"],
            "question": query["query"],
            "answerable": True,
            "gold_turns": sorted(query["gold_turns"]),
            "expected_speakers": expected,
            "key_phrases": [],
            "kinds": ["speaker_named" if query["names_speaker"] else "topic"],
            "note": f"QMSum reference summary: {query['answer']}",
        })
    for number, (meeting, question, kind, person, absent) in enumerate(UNANSWERABLE, start=1):
        transcript = transcripts[meeting]
        lowered = transcript.text.lower()
        present = [word for word in absent if word.lower() in lowered]
        if present:
            raise SystemExit(f"{meeting}: {question!r} is not unanswerable, the transcript has {present}")
        if person is not None and (person in transcript.speakers) != (kind != "absent_speaker"):
            raise SystemExit(f"{meeting}: {question!r}: {person} speaking there contradicts the kind {kind}")
        rows.append({
            "qid": f"qmsum-unanswerable-{number:02d}",
            "document": meeting,
            "question": question,
            "answerable": False,
            "gold_turns": [],
            "expected_speakers": [],
            "key_phrases": [],
            "kinds": [kind],
            "note": f"Hand-written and checked: {meeting} never mentions {' or '.join(repr(w) for w in absent)}"
            + (f"; {person.title()} does not speak there." if kind == "absent_speaker" else "."),
        })
    return rows


def _misattributed(query: dict, speaker: str) -> dict:
    """A query naming someone who never speaks in the meeting: Verbatim must not quote others as them."""
    print(f"{query['qid']}: {speaker.title()} does not speak in {query['meeting']}; kept as absent_speaker")
    return {
        "qid": f"qmsum-{query['qid']}",
        "document": query["meeting"],
        "question": query["query"],
        "answerable": False,
        "gold_turns": [],
        "expected_speakers": [],
        "key_phrases": [],
        "kinds": ["absent_speaker"],
        "note": f"QMSum names {speaker.title()}, who does not speak in {query['meeting']}; its reference answer "
        f"(turns {query['gold_turns'][0]}-{query['gold_turns'][-1]}) is other speakers' words: {query['answer']}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = build(args.dataset)
    args.out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    answerable = sum(row["answerable"] for row in rows)
    print(f"wrote {len(rows)} questions ({answerable} answerable, {len(rows) - answerable} not) to {args.out}")


if __name__ == "__main__":
    main()
