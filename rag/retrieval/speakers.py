"""Who a question is about: the corpus's speakers it names, and named people who never speak."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rag.models import Transcript
from rag.formats.labels import NAME_PARTICLES, parenthesised_parts

# "(NANAIMO-LADYSMITH, GP)" is a riding and a party, not an office anyone would ask about.
_RIDING = re.compile(r",\s*(?:LIB|CPC|NDP|BQ|GP|IND|CON|LAB|SNP|PC)\.?\s*$", re.IGNORECASE)
_TITLE_PREFIX = re.compile(
    r"^(?:the\s+)?((?:(?:foreign|prime|deputy|vice|under|assistant|acting)\s+)*"
    r"(?:minister|secretary|president|chair|chairman|chairwoman|senator|ambassador|governor|speaker|"
    r"moderator|spokesperson|spokesman)(?:\s+of\s+[a-z ]+)?)\b",
    re.IGNORECASE,
)
# Press transcripts label the journalists' turns by role; questions name them by profession.
_PRESS_ROLES = {
    label: {"journalist", "journalists", "reporter", "reporters", "questioner"}
    for label in ("QUESTION", "Q", "REPORTER", "PRESS")
}
# Meeting corpora label a role short ("MARKETING", "USER INTERFACE", "INDUSTRIAL DESIGNER"); questions
# give its full title ("the marketing expert", "the user interface designer") or shorten it the other
# way ("Industrial Design").
_ROLE_SUFFIXES = ("designer", "expert")
_PERSONAL_TITLE = r"(?:President|Minister|Secretary|Senator|Mr\.?|Mrs\.?|Ms\.?|Dr\.?|Prime Minister|Chancellor|King|Queen|Ambassador|Envoy|General)"
# A personal title ending where a name begins ("Minister Kirsty Williams" before "Williams"), and
# how far before the name it may start.
_TITLE_BEFORE = re.compile(rf"\b{_PERSONAL_TITLE}\s+(?:[A-Z][\w'’\-]+\s+)?\Z")
_TITLE_REACH = 120
# Names whose verdict a directory remembers (questions may name anyone; the memory stays bounded).
_ABSENT_REMEMBERED = 10_000
_PARTICLE = rf"(?:(?:{'|'.join(NAME_PARTICLES)})\s+|al-|el-)"
_NAME = rf"{_PARTICLE}?[A-Z][a-zA-Z'’\-]+(?:\s+{_PARTICLE}?[A-Z][a-zA-Z'’\-]+)*"
_ASKS_ABOUT = [
    re.compile(
        rf"\b(?:did|does|do|has|had|would|will|is|was)\s+(?:{_PERSONAL_TITLE}\s+)?(?P<name>{_NAME})\s+"
        r"(?:himself\s+|herself\s+|personally\s+|actually\s+|really\s+|also\s+|ever\s+)?"
        r"(?:say|said|think|thinks|feel|claim|state|mention|tell|argue|believe|respond|answer|propose|"
        r"suggest|announce|want|report|promise|explain|describe|reply|comment|note|add|stress|insist)\b"
    ),
    _POSSESSIVE := re.compile(
        rf"(?:^|[\s(])(?:{_PERSONAL_TITLE}\s+)?(?P<name>{_NAME})(?:'s|’s)\s+(?:view|views|position|opinion|"
        r"stance|remarks|comments|statement|words|answer|response|take|thoughts|reply|argument)\b"
    ),
    re.compile(rf"\baccording to\s+(?:{_PERSONAL_TITLE}\s+)?(?P<name>{_NAME})"),
]


@dataclass(frozen=True)
class SpeakerMention:
    """Speakers of the corpus a question names, and names of people who never speak in it."""

    speakers: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    topic: str = ""


class SpeakerDirectory:
    """Every way a question may name a speaker of the corpus: full name, surname, office."""

    def __init__(self, labels: Iterable[tuple[str, str]], texts: Callable[[], Iterable[str]]) -> None:
        """:param labels: every ``(label, speaker)`` pair, in order of first appearance.
        :param texts: the transcripts' texts, read only when a question names someone who is no speaker.
        """
        self._aliases: dict[str, set[str]] = defaultdict(set)
        self._read_texts = texts
        self._texts: list[str] | None = None
        # A speaker's label repeats turn after turn: its aliases are worked out once.
        for label, speaker in dict.fromkeys(labels):
            for alias in _aliases_of(label, speaker):
                self._aliases[alias].add(speaker)
        # Longest first, so "prime minister" wins over "minister" and full names over surnames.
        self._ordered = sorted(self._aliases, key=len, reverse=True)
        # Names a question used that no speaker goes by, and whether they count as absent people.
        self._absent: dict[str, bool] = {}
        # Each compiled once, when a question first contains it: a corpus of many meetings has more
        # aliases than ``re`` caches (512), and recompiling them took ~3 s a question on the 53
        # qmsum-tune meetings, while compiling all of a 2,000-document index's 6,000 took ~3 s of its start-up.
        self._patterns: dict[str, re.Pattern[str]] = {}

    @classmethod
    def of(cls, transcripts: Iterable[Transcript]) -> SpeakerDirectory:
        """The directory of some parsed transcripts, all in memory."""
        transcripts = list(transcripts)
        return cls(((turn.label, turn.speaker) for t in transcripts for turn in t.turns),
                   lambda: [t.text for t in transcripts])

    @property
    def speakers(self) -> list[str]:
        return sorted({speaker for names in self._aliases.values() for speaker in names})

    def mention(self, question: str) -> SpeakerMention:
        """Which speakers ``question`` names, and which named people never speak here."""
        # "Huw David' s opinion" is a possessive with a stray space.
        lowered = " " + re.sub(r"[^\w'’\- ]+", " ", re.sub(r"(\w)(['’]) s\b", r"\1\2s", question.lower())) + " "
        subject_span = _subject_span(lowered)
        found: list[str] = []
        subjects: list[str] = []
        consumed = lowered
        for alias in self._ordered:
            # A substring test first: an archive has thousands of aliases and a question names few.
            if alias not in consumed:
                continue
            pattern = self._pattern(alias)
            match = pattern.search(consumed)
            if match:
                found.extend(sorted(self._aliases[alias]))
                if subject_span and subject_span[0] <= match.start() < subject_span[1]:
                    subjects.extend(sorted(self._aliases[alias]))
                # Blank it out with spaces of the same length, so positions stay comparable.
                consumed = pattern.sub(lambda m: " " * len(m.group()), consumed)
        # "What did the journalist ask Kerry?" is about the journalist's words, not Kerry's,
        # and "Kerry" stays in the topic.
        if subjects:
            found = subjects
            consumed = lowered
            for alias in self._ordered:
                if alias in consumed and self._aliases[alias] & set(subjects):
                    consumed = self._pattern(alias).sub(" ", consumed)
        named = [(name, subject) for name, subject in _named_people(question) if self._is_absent(name)]
        absent = tuple(dict.fromkeys(name for name, _ in named))
        if any(subject for _, subject in named):
            # "What did Putin tell reporters?" asks about Putin, whoever else it names.
            found = []
        return SpeakerMention(tuple(dict.fromkeys(found)), absent, " ".join(consumed.split()))

    def _pattern(self, alias: str) -> re.Pattern[str]:
        pattern = self._patterns.get(alias)
        if pattern is None:
            pattern = self._patterns[alias] = re.compile(rf"(?<![\w'’-]){re.escape(alias)}(?:'s|’s)?(?![\w'’-])")
        return pattern

    def _is_absent(self, name: str) -> bool:
        """A name that is no speaker's, and that the corpus uses for a person or never uses."""
        lowered = name.lower()
        if any(lowered == alias or lowered.endswith(" " + alias) for alias in self._aliases):
            return False
        # Read once: the service's threads share the directory, and another may clear the memory.
        verdict = self._absent.get(name)
        if verdict is None:
            if len(self._absent) >= _ABSENT_REMEMBERED:
                self._absent.clear()
            verdict = self._absent[name] = self._titled_or_unused(name)
        return verdict

    def _titled_or_unused(self, name: str) -> bool:
        """Whether ``name`` never occurs as a word in the corpus, or occurs after a personal title."""
        as_word = re.compile(rf"\b{re.escape(name)}\b")
        used = False
        # Found by substring search, then checked: a regular expression over every text took
        # seconds a question on an archive of thousands of transcripts.
        if self._texts is None:
            self._texts = list(self._read_texts())
        for text in self._texts:
            start = text.find(name)
            while start >= 0:
                if as_word.match(text, start):
                    used = True
                    if _TITLE_BEFORE.search(text, max(0, start - _TITLE_REACH), start):
                        return True
                start = text.find(name, start + 1)
        return not used


def _aliases_of(label: str, speaker: str) -> set[str]:
    aliases = {speaker.lower()}
    words = speaker.lower().split()
    if len(words) > 1:
        aliases.add(words[-1])
    labelled = label.lower().split()
    if len(labelled) == 2 and len(labelled[1]) == 1:
        # Anonymised meetings label "PROFESSOR B", "GRAD E"; "the professor" means whichever spoke.
        aliases.update({labelled[0], label.lower()})
    for part in parenthesised_parts(label):
        if not _RIDING.search(part) and "(" not in part:
            aliases.add(part.lower())
    head = label[: label.find("(")] if "(" in label else label
    title = _TITLE_PREFIX.match(head.strip())
    if title and title.group(1).lower() not in aliases:
        aliases.add(title.group(1).lower())
    if speaker in _PRESS_ROLES:
        aliases.update(_PRESS_ROLES[speaker])
    aliases.update(_role_titles(speaker.lower()))
    return {alias.strip() for alias in aliases if len(alias.strip()) > 2}


def _role_titles(speaker: str) -> set[str]:
    """Other names of a role-labelled speaker: "marketing" -> "marketing expert", "... designer" -> "... design"."""
    words = speaker.split()
    if len(words) > 2 or not words:
        return set()
    if words[-1] in _ROLE_SUFFIXES:
        return {" ".join(words[:-1] + [words[-1].removesuffix("er")])} if words[-1].endswith("er") else set()
    return {f"{speaker} {suffix}" for suffix in _ROLE_SUFFIXES}


# The words between an auxiliary and a verb of speech name whose words a question is about.
_SUBJECT = re.compile(
    r"\b(?:did|does|do|has|have|had|would|will|was|were|is|are|could|can|should)\s+(?P<subject>.+?)\s+"
    r"(?:say|said|ask|asked|tell|told|answer|answered|respond|responded|reply|replied|think|thinks|describe|"
    r"characterize|characterise|view|mean|want|hope|propose|suggest|announce|mention|raise|explain|claim|"
    r"argue|believe|feel|call|put|give|express|emphasize|stress|insist|add|note|report|promise|warn|agree|"
    r"discuss|talk|speak|react|make|expect|see|question|recommend|contribute|learn|elaborate|introduce|present|"
    r"conclude|disagree|put|design)\b"
)


def _subject_span(lowered: str) -> tuple[int, int] | None:
    match = _SUBJECT.search(lowered)
    return match.span("subject") if match else None


def _named_people(question: str) -> list[tuple[str, bool]]:
    """Names a question asks about, each with whether it is the subject ("did X say")."""
    names = []
    for pattern in _ASKS_ABOUT:
        for match in pattern.finditer(question):
            # "Was Bethan Owen's comment ..." names Bethan Owen, not "Bethan Owen's".
            name = re.sub(r"['’]s$", "", match.group("name").strip())
            names.append((name, pattern is not _POSSESSIVE))
    return names
