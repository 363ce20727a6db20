from rag.indexing.chunking import chunk_transcript, chunk_turn
from rag.formats import parse_transcript, read_transcript


def test_every_chunk_is_a_slice_within_one_turn_and_within_budget(seed_path, counter):
    transcript = read_transcript(seed_path)
    chunks = chunk_transcript(transcript, counter.count, 120)
    turns = {turn.index: turn for turn in transcript.turns}
    assert {chunk.turn for chunk in chunks} == set(turns)
    for chunk in chunks:
        turn = turns[chunk.turn]
        assert transcript.text[chunk.char_start : chunk.char_end] == chunk.text
        assert turn.char_start <= chunk.char_start < chunk.char_end <= turn.char_end
        assert chunk.speaker == turn.speaker
        assert counter.count(chunk.text) <= 120


def test_a_short_turn_is_one_chunk_and_a_long_one_splits_at_sentences(seed_path, counter):
    transcript = read_transcript(seed_path)
    short = chunk_turn(transcript.turns[2], transcript.text, counter.count, 200)
    assert [(c.id, c.text) for c in short] == [("kerry-lavrov-moscow-2015-12-15:2:0", "Russia Today news channel, please.")]
    long = chunk_turn(transcript.turns[1], transcript.text, counter.count, 200)
    assert len(long) == 8
    assert [c.part for c in long] == list(range(8))
    assert all(c.text.endswith((".", "?", "!", "”", ":")) for c in long)


def test_an_overlong_sentence_is_cut_at_word_boundaries(counter):
    words = " ".join(f"word{i}" for i in range(300))
    transcript = parse_transcript(f"SPEAKER ONE: {words}.\n", "doc")
    chunks = chunk_transcript(transcript, counter.count, 50)
    assert len(chunks) > 1
    assert " ".join(c.text for c in chunks) == words + "."
    assert all(counter.count(c.text) <= 50 for c in chunks)


def test_empty_turns_make_no_chunks(counter):
    transcript = parse_transcript("A: Hello there.\n\nB:\n\nA: Again.\n", "doc")
    assert [c.turn for c in chunk_transcript(transcript, counter.count, 50)] == [0, 2]
