"""Speaker labels and stage directions as transcripts write them: pure functions and patterns.

One definition for every reader (a label opening a line of text, a ``Name:`` inside a caption
cue) and for ``rag.sentences``, which keeps stage directions out of quotable sentences.
"""

from __future__ import annotations

import re

# An upper-case label ("FOREIGN MINISTER LAVROV", "HON. X (RIDING, LIB.)") or a short run of
# capitalised words ("Secretary Kerry", "Sergey Lavrov", "SPEAKER_00").
_UPPER_LABEL = r"[A-Z][A-Z0-9 .,'’&/()\-]{0,199}"
# Lower-case words inside a person's name ("Ursula von der Leyen", "Adel al Jubeir").
NAME_PARTICLES = ("de", "la", "der", "van", "von", "da", "du", "al", "bin")
_TITLE_LABEL = rf"[A-Z][\w.'’\-]*(?: (?:[A-Z(][\w.,'’()\-]*|of|{'|'.join(NAME_PARTICLES)})){{0,5}}"
LABEL = rf"(?:{_UPPER_LABEL}|{_TITLE_LABEL})"

# A label followed by a colon and a space, a tab or the end of the line.
LABEL_COLON = re.compile(rf"(?P<label>{LABEL}):(?=[ \t]|$)", re.MULTILINE)

# A clock reading in a transcript: "00:28", "1:02:03", "00:00:07.400".
CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"

# Words that end in a colon at the start of a line without naming anyone: header fields
# ("Date: ...") and prose ("Note: ..."). A speaker is never called this on its own.
_NOT_SPEAKERS = frozenset(
    """NOTE NOTES PS P.S. UPDATE UPDATED CORRECTION EXAMPLE SUBJECT RE DATE TIME TITLE PLACE LOCATION
    VENUE SOURCE TRANSCRIPT SUMMARY AGENDA TOPIC WARNING CAPTION PHOTO VIDEO AUDIO WATCH SEE ALSO
    LOOK LISTEN FIRST SECOND THIRD FINALLY AGAIN YES NO WELL OKAY OK SO NOW REMEMBER""".split()
)

# A parenthesised stage direction, "(Laughter.)", "(Via interpreter)", "(In Russian)"; the
# length bound keeps ordinary parenthetical remarks out.
STAGE_DIRECTION = re.compile(r"\(([^()\n]{1,40})\)[ \t]*")

# Where a stage direction stands on its own rather than inside a sentence: at the start of
# a paragraph, or after a sentence's closing punctuation.
_STANDALONE_DIRECTION = re.compile(r"(?:^|(?<=[.!?…\"”’])[ \t]+)\(([^()\n]{1,40})\)", re.MULTILINE)

_PAREN_GROUP = re.compile(r"\([^()]*\)")
_TITLE_WORDS = frozenset(
    """MR MRS MS MISS MX DR PROF PROFESSOR HON HONOURABLE HONORABLE RIGHT RT SIR DAME LORD LADY
    SENATOR SEN REP REPRESENTATIVE CONGRESSMAN CONGRESSWOMAN SECRETARY FOREIGN MINISTER PRIME
    PRESIDENT VICE DEPUTY ASSISTANT UNDER GENERAL AMBASSADOR GOVERNOR MAYOR JUDGE JUSTICE
    CHAIRMAN CHAIRWOMAN SPEAKER ACTING STATE""".split()
)
_POST_NOMINALS = frozenset("AM MP MS MSP MLA MEP QC KC PHD OBE MBE CBE".split())


def is_speaker_label(label: str) -> bool:
    """Whether ``label`` (without its colon) reads as a person or a role, not a header field or prose."""
    return re.fullmatch(LABEL, label) is not None and label.strip().upper() not in _NOT_SPEAKERS


def stage_directions(text: str) -> list[str]:
    """Stage directions standing on their own in ``text``, lower-cased without a final period: ``["laughter"]``."""
    return [match.group(1).strip().rstrip(".").lower() for match in _STANDALONE_DIRECTION.finditer(text)]


def canonical_speaker(label: str) -> str:
    """Reduce a label as written to the person: ``FOREIGN MINISTER LAVROV`` -> ``LAVROV``.

    Parenthesised ridings and offices go, then leading titles and trailing post-nominals,
    unless nothing would be left (``THE CHAIR`` stays as it is).
    """
    text = label.upper()
    while _PAREN_GROUP.search(text):
        text = _PAREN_GROUP.sub(" ", text)
    words = [word.strip(".,") for word in text.split()]
    words = [word for word in words if word]
    if not words:
        return label.strip().upper()
    start, end = 0, len(words)
    while start < end - 1 and words[start] in _TITLE_WORDS:
        start += 1
    while end > start + 1 and words[end - 1] in _POST_NOMINALS:
        end -= 1
    core = words[start:end]
    if all(word in _TITLE_WORDS or word == "THE" for word in core):
        core = words
    return " ".join(core)


def parenthesised_parts(label: str) -> list[str]:
    """The top-level parenthesised groups of a label, e.g. ridings and offices."""
    parts, depth, current = [], 0, []
    for char in label:
        if char == "(":
            if depth:
                current.append(char)
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth:
                current.append(char)
            else:
                parts.append("".join(current).strip())
                current = []
        elif depth:
            current.append(char)
    return [part for part in parts if part]
