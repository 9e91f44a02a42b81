"""The three questionnaires codo ships, for an organisation to copy and adapt.

They are written in German with "Sie", German with "du" where it reads differently, and English.
"""

from __future__ import annotations

from shared.questionnaires.schemas import Content, Option, Question, Wording


def _w(de: str, en: str, du: str = "") -> Wording:
    return Wording(de=de, en=en, de_du=du)


_SCALE = [
    _w("sehr schlecht", "very poor"),
    _w("eher schlecht", "rather poor"),
    _w("mittel", "so-so"),
    _w("eher gut", "rather good"),
    _w("sehr gut", "very good"),
]
_AGREE = [
    _w("stimmt gar nicht", "not at all"),
    _w("stimmt eher nicht", "rather not"),
    _w("teils, teils", "partly"),
    _w("stimmt eher", "rather yes"),
    _w("stimmt genau", "exactly"),
]


def _worry() -> list[Question]:
    return [
        Question(
            key="worry",
            type="yes_no",
            required=True,
            signal="worry",
            text=_w(
                "Gibt es etwas, das Ihnen Sorgen macht?",
                "Is there something that worries you?",
                "Gibt es etwas, das dir Sorgen macht?",
            ),
        ),
        Question(
            key="worry_text",
            type="long_text",
            confidential=True,
            text=_w(
                "Wenn ja: Was macht Ihnen Sorgen?",
                "If so: what worries you?",
                "Wenn ja: Was macht dir Sorgen?",
            ),
            help=_w(
                "Das lesen nur Ihre Koordinator:in und die Leitung.",
                "Only your coordinator and the management read this.",
                "Das lesen nur deine Koordinator:in und die Leitung.",
            ),
        ),
    ]


CHECKIN = Content(
    title=_w("Wie läuft Ihr Tandem?", "How is your tandem going?", "Wie läuft dein Tandem?"),
    intro=_w(
        "Ein paar kurze Fragen, damit wir Sie gut begleiten können. Es dauert etwa zwei Minuten.",
        "A few short questions so that we can support you well. It takes about two minutes.",
        "Ein paar kurze Fragen, damit wir dich gut begleiten können. Es dauert etwa zwei Minuten.",
    ),
    questions=[
        Question(
            key="satisfaction",
            type="scale",
            required=True,
            signal="low_rating",
            scale=_SCALE,
            text=_w(
                "Wie zufrieden sind Sie mit dem Tandem?",
                "How satisfied are you with the tandem?",
                "Wie zufrieden bist du mit dem Tandem?",
            ),
        ),
        Question(
            key="meetings",
            type="single",
            required=True,
            text=_w(
                "Wie oft haben Sie sich im letzten Monat getroffen?",
                "How often did you meet in the last month?",
                "Wie oft habt ihr euch im letzten Monat getroffen?",
            ),
            options=[
                Option(key="none", label=_w("gar nicht", "not at all")),
                Option(key="once", label=_w("einmal", "once")),
                Option(key="few", label=_w("zwei- bis dreimal", "two or three times")),
                Option(key="weekly", label=_w("jede Woche", "every week")),
            ],
        ),
        Question(
            key="activities",
            type="multiple",
            text=_w(
                "Was haben Sie zusammen gemacht?",
                "What did you do together?",
                "Was habt ihr zusammen gemacht?",
            ),
            options=[
                Option(key="learning", label=_w("gelernt, Hausaufgaben", "learning, homework")),
                Option(key="leisure", label=_w("Freizeit, Ausflug", "leisure, outing")),
                Option(key="talk", label=_w("geredet", "talked")),
                Option(key="other", label=_w("etwas anderes", "something else")),
            ],
        ),
        *_worry(),
        Question(
            key="comment",
            type="long_text",
            text=_w(
                "Möchten Sie uns noch etwas mitteilen?",
                "Is there anything else you would like to tell us?",
                "Möchtest du uns noch etwas mitteilen?",
            ),
        ),
    ],
)

CLOSING = Content(
    title=_w("Rückblick auf Ihr Tandem", "Looking back on your tandem", "Rückblick auf dein Tandem"),
    intro=_w(
        "Ihr Tandem ist zu Ende. Ihre Antworten helfen uns, künftige Tandems besser zu begleiten.",
        "Your tandem has ended. Your answers help us support future tandems better.",
        "Dein Tandem ist zu Ende. Deine Antworten helfen uns, künftige Tandems besser zu begleiten.",
    ),
    questions=[
        Question(
            key="satisfaction",
            type="scale",
            required=True,
            signal="low_rating",
            scale=_SCALE,
            text=_w(
                "Wie zufrieden waren Sie insgesamt mit dem Tandem?",
                "Overall, how satisfied were you with the tandem?",
                "Wie zufrieden warst du insgesamt mit dem Tandem?",
            ),
        ),
        Question(
            key="support",
            type="scale",
            scale=_SCALE,
            text=_w(
                "Wie gut haben wir Sie begleitet?",
                "How well did we support you?",
                "Wie gut haben wir dich begleitet?",
            ),
        ),
        Question(
            key="again",
            type="yes_no",
            required=True,
            signal="would_not_continue",
            text=_w(
                "Würden Sie wieder an einem Tandem teilnehmen?",
                "Would you take part in a tandem again?",
                "Würdest du wieder an einem Tandem teilnehmen?",
            ),
        ),
        Question(
            key="months",
            type="number",
            min=0,
            max=120,
            text=_w(
                "Wie viele Monate haben Sie sich ungefähr getroffen?",
                "For about how many months did you meet?",
                "Wie viele Monate habt ihr euch ungefähr getroffen?",
            ),
        ),
        Question(
            key="best",
            type="short_text",
            text=_w("Was war am schönsten?", "What was the best part?"),
        ),
        *_worry(),
    ],
)

IMPACT = Content(
    title=_w("Wie geht es Ihnen?", "How are you doing?", "Wie geht es dir?"),
    intro=_w(
        "Wir stellen diese Fragen am Anfang und am Ende des Tandems, um zu sehen, was es bewirkt.",
        "We ask these questions at the start and at the end of the tandem to see what difference it makes.",
    ),
    questions=[
        Question(
            key="confidence",
            type="scale",
            required=True,
            scale=_AGREE,
            text=_w(
                "Ich traue mir zu, Neues auszuprobieren.",
                "I feel confident trying new things.",
            ),
        ),
        Question(
            key="school_work",
            type="scale",
            required=True,
            scale=_AGREE,
            text=_w(
                "In Schule, Ausbildung oder Arbeit komme ich gut zurecht.",
                "I am coping well at school, in training or at work.",
            ),
        ),
        Question(
            key="language",
            type="scale",
            required=True,
            scale=_AGREE,
            text=_w(
                "Ich kann mich auf Deutsch gut verständigen.",
                "I can make myself understood well in German.",
            ),
        ),
        Question(
            key="contacts",
            type="scale",
            required=True,
            scale=_AGREE,
            text=_w(
                "Ich habe Menschen, an die ich mich wenden kann.",
                "I have people I can turn to.",
            ),
        ),
        Question(
            key="satisfaction",
            type="scale",
            scale=_SCALE,
            signal="low_rating",
            text=_w(
                "Wie zufrieden sind Sie mit dem Tandem?",
                "How satisfied are you with the tandem?",
                "Wie zufrieden bist du mit dem Tandem?",
            ),
        ),
    ],
)

TEMPLATES: dict[str, tuple[str, Content]] = {
    "checkin": ("checkin", CHECKIN),
    "closing": ("closing", CLOSING),
    "impact": ("impact", IMPACT),
}
