"""The eval metrics on hand-made answers, the gates, the reports, and one real end-to-end run."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.errors import EvalConfigError, EvalSetError, JudgeError
from rag.evaluation.gates import Gate, GateFailure, check_gate, compare_summaries, parse_thresholds, question_changes
from rag.evaluation.judge import LLMJudge, own_sentences, parse_judgement
from rag.evaluation.report import bar_chart, format_value, question_verdicts, render_html, render_text
from rag.evaluation.runner import EXIT_FAILED, EvalRequest, exit_code, report_dict, run_eval
from rag.evaluation.sets import check_against_transcripts, parse_set
from rag.evaluation.metrics import (
    EvalQuestion,
    Judgement,
    QuestionResult,
    citation_is_located,
    failures_by_kind,
    hit_at_k,
    phrases_retrieved,
    ranked_turns,
    recall_at_k,
    reciprocal_rank,
    score_question,
    summarize,
)
from rag.generators.llm import ScriptedChat
from rag.models import Answer, Chunk, Citation, Passage
from rag.formats import parse_transcript
from rag.generators.prompts import PromptTemplate
from tests.conftest import ROOT, SEED

TEXT = (
    "ALICE: We met in Geneva. The talks went well.\n\n"
    "BOB: We will meet again on Friday in New York.\n\n"
    "ALICE: Thank you all for coming."
)
DOC = parse_transcript(TEXT, "doc")
GENEVA = "We met in Geneva."
FRIDAY = "We will meet again on Friday in New York."


def cite(quote: str, speaker: str, turn: int, cid: int = 1, start: int | None = None) -> Citation:
    start = TEXT.index(quote) if start is None else start
    return Citation(cid, quote, speaker, speaker, "doc", turn, start, start + len(quote))


def passage(turn: int) -> Passage:
    t = DOC.turns[turn]
    return Passage(Chunk(f"doc:{turn}:0", "doc", turn, 0, t.speaker, t.label, t.text, t.char_start, t.char_end), 0.5)


def answered(*citations: Citation, passages: tuple[Passage, ...] = (), text: str = "") -> Answer:
    return Answer(
        "q",
        text or "\n".join(f"X: “{c.quote}” [{c.id}]" for c in citations),
        False,
        "extractive",
        list(citations),
        list(passages),
    )


REFUSED = Answer("q", "The transcript does not cover this question.", True, "extractive")


def question(qid: str = "q1", answerable: bool = True, **fields) -> EvalQuestion:
    defaults = dict(gold_turns=(1,), expected_speakers=("BOB",), key_phrases=(FRIDAY,)) if answerable else {}
    return EvalQuestion(qid, "doc", "When is the next meeting?", answerable, **{**defaults, **fields})


def score(q: EvalQuestion, answer: Answer, latency: float = 10.0) -> QuestionResult:
    return score_question(q, answer, DOC, latency)


# ---- retrieval ------------------------------------------------------------------------------


def test_ranked_turns_keep_the_first_rank_of_each_turn():
    assert ranked_turns([passage(2), passage(0), passage(2), passage(1)], "doc") == [2, 0, 1]


def test_hit_recall_and_reciprocal_rank_of_gold_turns():
    assert (hit_at_k([2, 0], {1}), recall_at_k([2, 0, 1], {1, 3}), reciprocal_rank([2, 0, 1], {1, 3})) == (
        0.0,
        0.5,
        1 / 3,
    )


def test_phrase_hit_needs_a_passage_over_the_phrase():
    assert phrases_retrieved([passage(0)], "doc", TEXT, [FRIDAY, GENEVA]) == [GENEVA]


def test_a_retrieval_miss_lowers_hit_and_mrr():
    good = score(question("a"), answered(passages=(passage(1), passage(0))))
    missed = score(question("b"), answered(passages=(passage(0), passage(2))))
    summary = summarize([good, missed])
    assert (summary["hit_at_k"], summary["mrr"], summary["phrase_hit_at_k"]) == (0.5, 0.5, 0.5)


# ---- quotes, attribution, coverage --------------------------------------------------------------


def test_a_fabricated_quote_lowers_quote_validity():
    fabricated = Citation(
        2,
        "We will meet again on Monday in New York.",
        "BOB",
        "BOB",
        "doc",
        1,
        TEXT.index(FRIDAY),
        TEXT.index(FRIDAY) + len(FRIDAY),
    )
    result = score(question(), answered(cite(FRIDAY, "BOB", 1), fabricated))
    assert [c.valid for c in result.citations] == [True, False]
    assert summarize([result])["quote_validity"] == 0.5


def test_offsets_that_point_elsewhere_are_invalid_even_for_a_real_quote():
    shifted = cite(FRIDAY, "BOB", 1, start=TEXT.index(FRIDAY) + 1)
    assert summarize([score(question(), answered(shifted))])["quote_validity"] == 0.0


def test_a_citation_in_the_wrong_turn_is_not_located():
    assert citation_is_located(cite(FRIDAY, "BOB", 1), DOC)
    assert not citation_is_located(cite(FRIDAY, "BOB", 2), DOC)
    assert not citation_is_located(cite(FRIDAY, "ALICE", 1), DOC)


def test_a_left_out_summary_is_counted_and_named():
    kept = answered(cite(FRIDAY, "BOB", 1))
    dropped = replace(answered(cite(FRIDAY, "BOB", 1)), summary_dropped=True)
    results = [score(question("q1"), kept), score(question("q2"), dropped)]
    assert summarize(results)["summaries_dropped"] == 1
    assert failures_by_kind(results)["summaries_dropped"] == ["q2"]


def test_a_wrong_speaker_lowers_attribution():
    result = score(question(), answered(cite(FRIDAY, "BOB", 1), cite(GENEVA, "ALICE", 0, cid=2)))
    summary = summarize([result])
    assert (summary["attribution"], summary["attribution_failures"]) == (0.5, 1)
    assert [c.expected for c in result.citations] == [True, False]


def test_questions_without_expected_speakers_do_not_count_for_attribution():
    result = score(question(expected_speakers=()), answered(cite(GENEVA, "ALICE", 0)))
    assert summarize([result])["attribution"] is None


def test_answering_about_an_absent_speaker_attributes_words_to_a_non_speaker():
    absent = question("absent", answerable=False, kinds=("absent_speaker",))
    results = [
        score(absent, answered(cite(GENEVA, "ALICE", 0))),
        score(question("r", answerable=False, kinds=("absent_speaker",)), REFUSED),
    ]
    assert [r.absent_attribution for r in results] == [True, False]
    assert summarize(results)["absent_attributions"] == 1


def test_a_citation_by_someone_who_never_speaks_is_an_absent_attribution():
    stranger = cite(GENEVA, "CAROL", 0)
    assert score(question(), answered(stranger)).absent_attribution is True


def test_coverage_is_the_share_of_key_phrases_in_the_quotes():
    result = score(question(key_phrases=(FRIDAY, GENEVA)), answered(cite(FRIDAY, "BOB", 1)))
    assert (result.coverage, result.missing_phrases) == (0.5, [GENEVA])


def test_a_refused_answerable_question_covers_nothing_and_is_a_false_refusal():
    summary = summarize([score(question(), REFUSED)])
    assert (summary["coverage"], summary["false_refusals"], summary["refusal_precision"]) == (0.0, 1, 0.0)


# ---- refusal, latency -----------------------------------------------------------------------------


def test_a_missed_refusal_lowers_refusal_recall():
    unanswerable = [question(f"u{i}", answerable=False) for i in range(2)]
    results = [score(unanswerable[0], REFUSED), score(unanswerable[1], answered(cite(GENEVA, "ALICE", 0)))]
    summary = summarize(results + [score(question(), answered(cite(FRIDAY, "BOB", 1)))])
    assert (summary["refusal_recall"], summary["refusal_precision"], summary["missed_refusals"]) == (0.5, 1.0, 1)


def test_latency_percentiles_use_the_nearest_rank():
    results = [score(question(f"q{i}"), REFUSED, latency=float(ms)) for i, ms in enumerate([40, 10, 30, 20])]
    summary = summarize(results)
    assert (summary["latency_p50_ms"], summary["latency_p95_ms"]) == (20.0, 40.0)


# ---- eval sets ------------------------------------------------------------------------------------


def line(**fields) -> str:
    base = {"qid": "q1", "document": "doc", "question": "Q?", "answerable": True, "gold_turns": [1]}
    return json.dumps({**base, **fields})


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], "set.jsonl:1: invalid JSON"),
        ([line(), "", line()], "set.jsonl:3: qid 'q1' appears twice"),
        ([line(gold_turns=[])], "set.jsonl:1: an answerable question needs gold_turns"),
        ([line(answerable=False)], "set.jsonl:1: an unanswerable question has no gold turns, key phrases or speakers"),
        ([line(gold_turns=["1"])], "set.jsonl:1: gold_turns must be integers"),
        ([json.dumps({"qid": "q1"})], "set.jsonl:1: missing field(s) ['document', 'question', 'answerable']"),
    ],
)
def test_malformed_sets_are_refused_with_the_line(lines, message):
    with pytest.raises(EvalSetError) as caught:
        parse_set(lines, "set.jsonl")
    assert str(caught.value).startswith(message)


def test_a_key_phrase_must_be_in_the_transcript():
    questions = parse_set([line(key_phrases=["We will meet on Monday"])], "set.jsonl")
    with pytest.raises(EvalSetError, match=r"q1: key phrases not in doc: \['We will meet on Monday'\]"):
        check_against_transcripts(questions, {"doc": DOC})


def test_both_committed_sets_match_their_transcripts(qmsum_dir):
    from rag.formats import read_transcript

    for name, folder in (("seed", ROOT / "data" / "transcripts"), ("qmsum", qmsum_dir / "transcripts")):
        questions = parse_set((ROOT / "eval" / "sets" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines(), name)
        documents = {q.document for q in questions}
        check_against_transcripts(questions, {d: read_transcript(folder / f"{d}.txt") for d in documents})
        assert len(questions) >= 60
        assert sum(not q.answerable for q in questions) >= 10


def test_the_qmsum_set_is_what_its_build_script_writes(qmsum_dir):
    spec = importlib.util.spec_from_file_location("build_qmsum_set", ROOT / "eval" / "build_qmsum_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.build(qmsum_dir)
    committed = (ROOT / "eval" / "sets" / "qmsum.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.dumps(row, ensure_ascii=False) for row in rows] == committed


def test_the_qmsum_tune_sets_and_split_are_what_their_build_script_writes():
    dataset = ROOT.parent / "shared" / "datasets" / "qmsum-tune"
    if not dataset.is_dir():
        pytest.skip("no qmsum-tune dataset next to the project")
    spec = importlib.util.spec_from_file_location("build_qmsum_tune_set", ROOT / "eval" / "build_qmsum_tune_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows, split = module.build(dataset)
    sets = ROOT / "eval" / "sets"
    assert json.loads((sets / "qmsum-tune-split.json").read_text(encoding="utf-8")) == split
    for name, part in rows.items():
        committed = (sets / f"qmsum-tune-{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.dumps(row, ensure_ascii=False) for row in part] == committed
    # No meeting is on both sides, and every domain is on both.
    assert {split[r["document"]] for r in rows["choose"]} == {"choose"}
    for domain in ("committee", "product", "academic"):
        assert all(any(domain in r["kinds"] for r in part) for part in rows.values())
    # The CI gate set is the report split's questions on each domain's two shortest report meetings.
    gate = {r["document"] for r in rows["gate"]}
    assert rows["gate"] == [r for r in rows["report"] if r["document"] in gate]
    for domain in ("committee", "product", "academic"):
        report = {r["document"] for r in rows["report"] if domain in r["kinds"]}
        chosen = gate & report
        assert len(chosen) == module.GATE_MEETINGS_PER_DOMAIN
        turns = {name: len(module.read_transcript(dataset / "transcripts" / f"{name}.txt").turns) for name in report}
        assert max(turns[n] for n in chosen) <= min(turns[n] for n in report - chosen)


# ---- gates and baselines ----------------------------------------------------------------------------


def test_thresholds_name_known_metrics_only():
    with pytest.raises(EvalConfigError, match="gate 1: unknown metric 'recall'"):
        parse_thresholds({"gates": [{"set": "s", "generator": "g", "variant": "v", "min": {"recall": 0.5}}]}, "t.json")


def test_a_gate_reports_floors_ceilings_and_unmeasured_metrics():
    gate = Gate("s", "g", "v", {"min": {"quote_validity": 1.0, "coverage": 0.5}, "max": {"missed_refusals": 0}})
    result = check_gate({"quote_validity": 0.98, "coverage": None, "missed_refusals": 2}, gate)
    assert [str(f) for f in result.failures] == [
        "quote_validity = 0.98 is below the floor 1",
        "missed_refusals = 2 is above the ceiling 0",
    ]
    assert result.unmeasured == ("coverage",)
    assert check_gate({"quote_validity": 1.0, "missed_refusals": 0}, gate).failures == ()
    assert (
        GateFailure("mrr", 0.5, 0.6, "min")
        in check_gate({"mrr": 0.5}, Gate("s", "g", "v", {"min": {"mrr": 0.6}})).failures
    )


def test_baseline_deltas_mark_regressions_by_direction():
    deltas = compare_summaries(
        {"hit_at_k": 0.9, "missed_refusals": 1, "latency_p50_ms": 140.0, "latency_p95_ms": 160.0},
        {"hit_at_k": 0.95, "missed_refusals": 2, "latency_p50_ms": 100.0, "latency_p95_ms": 100.0},
        latency_tolerance=0.5,
    )
    assert [(d.metric, d.regressed) for d in deltas] == [
        ("hit_at_k", True),
        ("missed_refusals", False),
        ("latency_p50_ms", False),
        ("latency_p95_ms", True),
    ]


def _hand_made_report() -> dict:
    def question(qid: str, refused: bool) -> dict:
        return {"qid": qid, "question": f"Question {qid}?", "answer": "The transcript does not cover this question."
                if refused else "Bob: “We meet on Friday.” [1]", "answerable": True, "refused": refused,
                "hit": 1.0, "reciprocal_rank": 1.0, "phrase_hit": None, "coverage": None, "citations": [],
                "latency_ms": 5.0}

    summary = {"questions": 3, "quote_validity": 1.0, "false_refusals": 1, "latency_p50_ms": 300.0}
    variant = {
        "name": "hybrid", "summary": summary,
        "gate": {"status": "fail", "note": None, "failures": ["false_refusals = 1 is above the ceiling 0"],
                 "unmeasured": [], "bounds": {"min": {"quote_validity": 1.0}, "max": {"false_refusals": 0.0}},
                 "failing_metrics": ["false_refusals"]},
        "baseline": {"note": "compared with b.json", "changes": [], "deltas": [
            {"metric": "quote_validity", "before": 1.0, "after": 1.0, "regressed": False},
            {"metric": "false_refusals", "before": 0, "after": 1, "regressed": True},
            {"metric": "latency_p50_ms", "before": 100.0, "after": 300.0, "regressed": True}]},
        "failures_by_kind": {"false_refusals": ["q2"], "retrieval_misses": ["q3"]},
        "refusals_by_kind": {},
        "questions": [question("q1", False), question("q2", True), question("q3", False)],
    }
    return {"set": "hand", "set_file": "hand.jsonl", "generator": "extractive", "k": 6, "limit": None,
            "created": "2026-12-02T00:00:00+00:00", "judge": "n/a", "machine": {"cores": 2, "load_average": 5.2},
            "variants": [variant]}


def test_every_question_is_listed_with_its_verdict_failing_ones_first():
    verdicts = question_verdicts(_hand_made_report()["variants"][0])
    assert [(row["qid"], failures, shortcomings) for row, failures, shortcomings in verdicts] == [
        ("q2", ["refused, though the transcript answers it"], []),
        ("q3", [], ["no answering turn among the passages retrieved"]),
        ("q1", [], []),
    ]
    html = render_html(_hand_made_report())
    assert html.index("Question q2?") < html.index("Question q3?") < html.index("Question q1?")
    assert "1 of 3 wrong" in html


def test_reports_show_thresholds_beside_figures_and_a_slower_run_as_timing_not_regression():
    report = _hand_made_report()
    html = render_html(report)
    assert '<td class="fail">1 <span class="bound">(gate ≤ 0)</span></td>' in html
    assert "1.000 <span class=\"bound\">(gate ≥ 1)</span>" in html
    assert "timed on a loaded machine: load 5.2 on 2 cores; timings are not gated" in html
    text = render_text(report)
    assert "    REGRESSION false_refusals: 0 -> 1" in text
    assert "    slower     latency_p50_ms: 100 -> 300" in text
    assert "REGRESSION latency" not in text and "regression: latency" not in html


def test_question_changes_name_what_changed():
    now = {"qid": "q1", "refused": True, "hit": 0.0, "citations": [{"valid": True, "located": True, "expected": None}]}
    before = {"qid": "q1", "refused": False, "hit": 1.0, "citations": []}
    assert question_changes([now, {"qid": "q2", "refused": False}], [before]) == [
        "q1: now refused; hit@k 1 -> 0",
        "q2: new question",
    ]


# ---- the judge ------------------------------------------------------------------------------------


def test_own_sentences_leave_out_the_quote_lines():
    citation = cite(FRIDAY, "BOB", 1)
    answer = answered(citation, text=f"Bob says they meet on Friday [1].\nBob: “{FRIDAY}” [1]")
    assert own_sentences(answer) == "Bob says they meet on Friday [1]."


def test_judge_verdicts_give_supported_claims_over_claims():
    claims = [{"claim": "They meet Friday", "supported": True}, {"claim": "In Paris", "supported": "false"}]
    reply = f"```json\n{json.dumps({'claims': claims})}\n```"
    chat = ScriptedChat([reply])
    judge = LLMJudge(chat, PromptTemplate(ROOT / "prompts" / "judge.j2"), max_tokens=256)
    answer = answered(cite(FRIDAY, "BOB", 1), text=f"They meet on Friday in Paris [1].\nBob: “{FRIDAY}” [1]")
    judgement = judge.judge("When?", answer)
    assert (judgement.claims, judgement.supported) == ((("They meet Friday", True), ("In Paris", False)), 1)
    assert "They meet on Friday in Paris [1]." in chat.prompts[0] and f'[1] BOB: "{FRIDAY}"' in chat.prompts[0]
    result = score_question(question(), answer, DOC, 5.0, judgement)
    assert summarize([result])["faithfulness"] == 0.5


def test_an_unusable_judge_reply_is_a_note_not_a_crash():
    with pytest.raises(JudgeError):
        parse_judgement('{"claims": [{"claim": "x"}]}')
    judge = LLMJudge(ScriptedChat(["no json here"]), PromptTemplate(ROOT / "prompts" / "judge.j2"), max_tokens=256)
    judgement = judge.judge("When?", answered(cite(FRIDAY, "BOB", 1), text=f"Friday [1].\nBob: “{FRIDAY}” [1]"))
    assert judgement.note.startswith("judge failed: ")
    assert summarize([score_question(question(), REFUSED, DOC, 1.0, judgement)])["faithfulness"] is None


def test_answers_that_are_only_quotes_are_not_judged():
    judge = LLMJudge(ScriptedChat([]), PromptTemplate(ROOT / "prompts" / "judge.j2"), max_tokens=256)
    assert judge.judge("When?", answered(cite(FRIDAY, "BOB", 1))) == Judgement(
        note="the answer has no sentences of its own"
    )


# ---- reports ------------------------------------------------------------------------------------------


def test_the_chart_draws_one_bar_per_measured_rate_and_variant():
    variants = [
        {"name": "dense", "summary": {"hit_at_k": 0.5, "mrr": 0.25}},
        {"name": "bm25", "summary": {"hit_at_k": 1.0, "mrr": None}},
    ]
    svg = bar_chart(variants)
    assert svg.count("<rect x=") - len(variants) == 3  # the legend has one swatch per variant
    assert "<title>bm25 hit_at_k: 1.000</title>" in svg and 'height="100.0"' in svg
    assert (format_value("mrr", None), format_value("citations", 12), format_value("latency_p50_ms", 21.6)) == (
        "n/a",
        "12",
        "22",
    )


# ---- the runner, end to end -----------------------------------------------------------------------


def test_rag_eval_refuses_an_unknown_set_with_status_2():
    result = CliRunner().invoke(main, ["eval", "--set", "nosuch"])
    assert result.exit_code == 2
    assert "EvalConfigError: no eval set 'nosuch': name one of ['qmsum', 'qmsum-tune-choose', 'qmsum-tune-gate', 'qmsum-tune-report', 'seed'] or a .jsonl file" in result.output


def test_rag_eval_refuses_variants_with_a_retriever():
    result = CliRunner().invoke(main, ["eval", "--variants", "--retriever", "bm25"])
    assert result.exit_code == 2
    assert "--variants runs every retriever" in result.output


@pytest.mark.slow
def test_the_runner_scores_five_seed_questions_end_to_end(tmp_path, seed_index_path, seed_settings, minilm):
    thresholds = tmp_path / "thresholds.json"
    gate = {
        "set": "seed",
        "generator": "extractive",
        "variant": "hybrid+speakers",
        "min": {"quote_validity": 1.0, "citation_location": 1.0},
        "max": {"questions": 4},
    }
    thresholds.write_text(json.dumps({"gates": [gate]}))
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps({"variants": [{"name": "hybrid+speakers", "summary": {"quotes_dropped": -1}, "questions": []}]})
    )
    echoed: list[str] = []
    progress: list[tuple[str, int, int]] = []
    request = EvalRequest(
        sets=("seed",),
        limit=5,
        out=tmp_path / "reports",
        thresholds=thresholds,
        baseline=baseline,
        index_path=seed_index_path,
    )
    [run] = run_eval(
        request, seed_settings, embedder=minilm, echo=echoed.append, progress=lambda *step: progress.append(step)
    )

    assert [r.qid for r in run.runs[0].results] == ["seed-001", "seed-002", "seed-003", "seed-004", "seed-005"]
    summary = run.runs[0].summary
    assert (summary["questions"], summary["quote_validity"], summary["citation_location"]) == (5, 1.0, 1.0)
    assert summary["citations"] > 0 and summary["refusal_recall"] is None
    assert [str(f) for f in run.runs[0].gate.failures] == ["questions = 5 is above the ceiling 4"]
    assert exit_code([run]) == EXIT_FAILED
    assert [(d.metric, d.regressed) for d in run.runs[0].deltas if d.before is not None] == [("quotes_dropped", True)]
    assert run.runs[0].changes == [f"seed-00{i}: new question" for i in range(1, 6)]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "seed-extractive.html",
        "seed-extractive.json",
        "seed-extractive.md",
    ]
    stored = json.loads((tmp_path / "reports" / "seed-extractive.json").read_text())
    assert stored == json.loads(json.dumps(report_dict(run)))
    html = render_html(stored)
    assert "<svg" in html and "<script" not in html and "src=" not in html
    assert any(line.startswith("seed / extractive / hybrid+speakers: 5 questions in ") for line in echoed)
    # Ingest reports its own steps first (here: storing the sentence vectors the fixture's index lacks).
    label = "seed / extractive / hybrid+speakers"
    assert [step for step in progress if step[0] == label] == [(label, done, 5) for done in range(1, 6)]
    assert progress[-5:] == [(label, done, 5) for done in range(1, 6)]
    assert replace(run, runs=[]).failed is False


@pytest.mark.integration
@pytest.mark.slow
def test_rag_eval_local_server_scores_the_openai_generator_with_the_judge(tmp_path, seed_index_path):
    pytest.importorskip("llama_cpp", reason="the 'local' extra (llama-cpp-python) is not installed")
    # seed-001 and seed-002 are answerable: the model has something to quote and the judge to read.
    args = ["eval", "--local-server", "--set", "seed", "--limit", "2", "--k", "3", "--out", str(tmp_path),
            "--index", str(seed_index_path)]
    result = CliRunner().invoke(main, args)

    assert result.exit_code == 0, result.output
    assert "seed / openai / hybrid+speakers: 2/2" in result.stderr
    report = json.loads((tmp_path / "seed-openai.json").read_text())
    assert report["generator"] == "openai" and report["k"] == 3
    assert report["judge"].startswith("judge: local at http://127.0.0.1:")
    [variant] = report["variants"]
    assert variant["summary"]["questions"] == 2
    assert variant["gate"]["status"] == "unchecked"
    seed_text = SEED.read_text(encoding="utf-8")
    for question in variant["questions"]:
        assert question["latency_ms"] > 0
        assert question["claims"] is not None or question["judge_note"], question  # judged, or why not
        for citation in question["citations"]:
            assert citation["valid"] and citation["located"], citation
            assert seed_text[citation["char_start"] : citation["char_end"]] in question["answer"]
