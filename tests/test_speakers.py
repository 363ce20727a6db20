import pytest

from rag.formats import read_transcript
from rag.retrieval.speakers import SpeakerDirectory


@pytest.fixture(scope="module")
def seed_directory(seed_path):
    return SpeakerDirectory.of([read_transcript(seed_path)])


@pytest.mark.parametrize(
    ("question", "speakers", "absent"),
    [
        ("What did Lavrov say about the terrorist list?", ("LAVROV",), ()),
        ("Kerry's view on Assad?", ("KERRY",), ()),
        ("What did the Russian foreign minister say about Jordan?", ("LAVROV",), ()),
        ("What did Putin say about Syria?", (), ("Putin",)),
        ("What did President Obama say about isolation?", (), ("Obama",)),
        ("What did de Mistura say?", (), ("de Mistura",)),
        ("What did Merkel think of the sanctions?", (), ("Merkel",)),
        ("What did Russia say about Ukraine?", (), ()),
        ("What did the journalists ask?", ("QUESTION",), ()),
        ("How did Kerry answer Lavrov?", ("KERRY",), ()),
        ("What did the RT journalist ask Kerry?", ("QUESTION",), ()),
        ("How did Kerry and Lavrov each describe the Friday meeting?", ("KERRY", "LAVROV"), ()),
        ("Who should decide Syria's future, according to Lavrov?", ("LAVROV",), ()),
        ("What was Kerry's comment on Assad?", ("KERRY",), ()),
        ("What was Putin's comment on Assad?", (), ("Putin",)),
    ],
)
def test_speaker_mentions_in_the_seed(seed_directory, question, speakers, absent):
    mention = seed_directory.mention(question)
    assert (set(mention.speakers), mention.absent) == (set(speakers), absent)


def test_offices_in_parentheses_name_their_holder(qmsum_dir):
    directory = SpeakerDirectory.of([read_transcript(qmsum_dir / "transcripts" / "covid_2.txt")])
    assert directory.mention("What did the Prime Minister say about fraud?").speakers == ("JUSTIN TRUDEAU",)
    assert directory.mention("What did the Minister of Seniors say about seniors?").speakers == ("DEB SCHULTE",)
    assert directory.mention("What did Scheer ask?").speakers == ("ANDREW SCHEER",)


def test_a_possessive_speaker_name_is_not_taken_for_an_absent_person(qmsum_dir):
    directory = SpeakerDirectory.of([read_transcript(qmsum_dir / "transcripts" / "education_10.txt")])
    mention = directory.mention("What was Bethan Owen's comment towards the high-risk category?")
    assert (mention.speakers, mention.absent) == (("BETHAN OWEN",), ())


@pytest.fixture(scope="module")
def design_team(tmp_path_factory):
    path = tmp_path_factory.mktemp("ami") / "design.txt"
    path.write_text(
        "PROJECT MANAGER: Welcome to the kick-off meeting.\n\n"
        "MARKETING: Users want a fancy remote.\n\n"
        "USER INTERFACE: I would add a scroll wheel.\n\n"
        "INDUSTRIAL DESIGNER: Rubber is cheaper than titanium.\n",
        encoding="utf-8",
    )
    return SpeakerDirectory.of([read_transcript(path)])


@pytest.mark.parametrize(
    ("question", "speakers", "topic"),
    [
        ("What did the user interface designer propose about components?", ("USER INTERFACE",), "propose about components"),
        ("Summarize the marketing expert's opinions towards user identification.", ("MARKETING",), "towards user identification"),
        ("Why did Industrial Design disagree about titanium?", ("INDUSTRIAL DESIGNER",), "disagree about titanium"),
        ("What did Project Manager question about the Industrial Designer's presentation?", ("PROJECT MANAGER",),
         "industrial designer's presentation"),
    ],
)
def test_roles_are_named_by_their_full_or_short_title(design_team, question, speakers, topic):
    mention = design_team.mention(question)
    assert mention.speakers == speakers
    assert topic in mention.topic


def test_a_possessive_with_a_stray_space_names_the_speaker(qmsum_dir):
    directory = SpeakerDirectory.of([read_transcript(qmsum_dir / "transcripts" / "education_10.txt")])
    assert directory.mention("Summarize Bethan Owen' s opinion on inspections.").speakers == ("BETHAN OWEN",)


def test_an_anonymised_role_is_named_by_the_role_alone(tmp_path):
    path = tmp_path / "group.txt"
    path.write_text("PROFESSOR B: Let us start.\n\nGRAD A: The disks are full.\n\nGRAD E: I ordered more.\n", encoding="utf-8")
    directory = SpeakerDirectory.of([read_transcript(path)])
    assert directory.mention("What did the professor think about disks?").speakers == ("B",)
    assert set(directory.mention("What did the grad say about disks?").speakers) == {"GRAD A", "GRAD E"}
    assert directory.mention("What did Grad E contribute to the disks?").speakers == ("GRAD E",)


def test_a_named_non_speaker_is_absent_when_titled_or_unused_and_not_when_only_a_word(tmp_path):
    path = tmp_path / "council.txt"
    path.write_text(
        "CHAIR: Minister Kirsty Williams wrote to us, and so did Dr. Okafor.\n\n"
        "MEMBER: The Lindqvist report covers the ferry.\n",
        encoding="utf-8",
    )
    directory = SpeakerDirectory.of([read_transcript(path)])
    # Titled in the text (with a first name between), titled directly, never used, used only as a word.
    assert directory.mention("What did Williams say about the ferry?").absent == ("Williams",)
    assert directory.mention("What did Okafor say about the ferry?").absent == ("Okafor",)
    assert directory.mention("What did Moreau say about the ferry?").absent == ("Moreau",)
    assert directory.mention("What did Lindqvist say about the ferry?").absent == ()
    # Asked twice, answered the same from the directory's memory.
    assert directory.mention("What did Williams think of the report?").absent == ("Williams",)
