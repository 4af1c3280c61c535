"""Deterministic, seeded generator of CNN/DailyMail-shaped data for tests and the offline demo.

The real dataset cannot be downloaded here, so this module fabricates data with the same layout
(Kaggle CSVs with columns ``id, article, highlights``) and, more importantly, the same *task*: the
highlights restate a few key facts of a longer article that also holds distractor sentences
(quotes, background, history). Every fact is sampled per article from wide pools, so a model can
only score well by reading the article, and every highlight is grounded in it: either a verbatim
copy of an article sentence or a paraphrase that reuses the same names and numbers.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import pathlib
import random
from collections.abc import Callable
from typing import NamedTuple

from core import one_line_errors

FIRST_NAMES = (
    "Anna Omar Li Maria David Fatima Lucas Priya Tom Elena Kwame Sofia James Aisha Marco Yuki Daniel "
    "Ingrid Pedro Chloe Ivan Amara Noah Leila Samuel Hannah Rafael Mei Victor Olivia Tariq Grace Hugo "
    "Nadia Felix Zara Oscar Ruth Mateo Clara Kofi Julia Arjun Emma Diego Sara Lars Naomi Karim Alice "
    "Jonas Bianca Theo Layla Pablo Irene Ahmed Vera Sean Lucia"
).split()
LAST_NAMES = (
    "Keller Okafor Chen Lopez Haddad Novak Bennett Sharma Fischer Moreau Mensah Rossi Walsh Tanaka "
    "Petrov Lindqvist Costa Murphy Nakamura Adeyemi Schmidt Kowalski Garcia Dubois Hughes Ibrahim "
    "Jensen Silva Brennan Yilmaz Carter Moretti Hansen Alvarez Owusu Park Grant Fontaine Weber Reyes "
    "Duarte Sato Quinn Bauer Khan Larsen Romero Farrell Abbott Castillo Vargas Holm Nieminen Barros "
    "Whitaker Ortega Salazar Kimura Lambert Mwangi"
).split()
PLACES = (
    ("Lyon", "France"), ("Porto", "Portugal"), ("Leeds", "England"), ("Glasgow", "Scotland"),
    ("Cork", "Ireland"), ("Hamburg", "Germany"), ("Munich", "Germany"), ("Naples", "Italy"),
    ("Turin", "Italy"), ("Seville", "Spain"), ("Valencia", "Spain"), ("Krakow", "Poland"),
    ("Brno", "Czechia"), ("Gothenburg", "Sweden"), ("Bergen", "Norway"), ("Aarhus", "Denmark"),
    ("Tampere", "Finland"), ("Graz", "Austria"), ("Ghent", "Belgium"), ("Izmir", "Turkey"),
    ("Osaka", "Japan"), ("Busan", "South Korea"), ("Chennai", "India"), ("Pune", "India"),
    ("Surabaya", "Indonesia"), ("Perth", "Australia"), ("Auckland", "New Zealand"),
    ("Durban", "South Africa"),
    ("Accra", "Ghana"), ("Lagos", "Nigeria"), ("Mombasa", "Kenya"), ("Casablanca", "Morocco"),
    ("Alexandria", "Egypt"), ("Monterrey", "Mexico"), ("Cordoba", "Argentina"), ("Recife", "Brazil"),
    ("Medellin", "Colombia"), ("Valparaiso", "Chile"), ("Arequipa", "Peru"), ("Calgary", "Canada"),
    ("Halifax", "Canada"), ("Cluj", "Romania"), ("Varna", "Bulgaria"), ("Debrecen", "Hungary"),
    ("Kaunas", "Lithuania"), ("Lucerne", "Switzerland"), ("Haifa", "Israel"), ("Da Nang", "Vietnam"),
    ("Chiang Mai", "Thailand"), ("Penang", "Malaysia"), ("Salzburg", "Austria"), ("Tartu", "Estonia"),
)
ORG_HEADS = (
    "Northwind Bluestone Harrow Meridian Ashford Corvane Stellar Redwood Kestrel Altmark Brightwater "
    "Halcyon Ironbridge Lumen Oakridge Pinnacle Silverline Tessera Vantage Westbrook Quarry Solent"
).split()
ORG_TAILS = "Holdings Group Industries Systems Energy Pharmaceuticals Bank Motors Logistics Foods".split()
NICKNAMES = "Rovers United Falcons Tigers Athletic Wanderers Rangers Comets Lions Harriers Dynamo".split()
PARTIES = ("Progressive Alliance", "National Renewal Party", "Green Future Party", "Civic Union",
           "Liberal Forum", "Workers Party", "Democratic Centre", "Reform Movement")
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()


def _money(rng: random.Random, unit: str) -> str:
    # One canonical spelling per amount, so a paraphrase can repeat it token for token.
    v = rng.randint(11, 950)
    return f"${v / 10:g} {unit}" if v < 100 else f"${v // 10} {unit}"


def _fire(rng, s):
    s.update(
        building=rng.choice(["warehouse", "apartment block", "hotel", "factory", "shopping centre"]),
        dead=rng.randint(2, 45), injured=rng.randint(5, 160), crews=rng.randint(30, 250),
        hours=rng.randint(2, 16), inspect_year=s["year"] - rng.randint(1, 6),
        cause=rng.choice(["an electrical fault", "a gas leak", "a discarded cigarette", "arson"]),
    )


def _election(rng, s):
    party_w, party_r = rng.sample(PARTIES, 2)
    pct_w = rng.randint(505, 719) / 10
    s.update(
        party_w=party_w, party_r=party_r, pct_w=pct_w, pct_r=round(rng.uniform(20, 99.5 - pct_w), 1),
        turnout=rng.randint(380, 820) / 10, since_year=s["year"] - rng.randint(8, 40),
        office=rng.choice([f"mayor of {s['city']}", f"president of {s['country']}"]),
        prev_job=rng.choice(["teacher", "doctor", "lawyer", "journalist", "engineer", "police officer"]),
    )


def _match(rng, s):
    gw = rng.randint(1, 6)
    away = rng.choice([c for c, _ in PLACES if c != s["city"]])  # a team cannot play itself
    s.update(
        team_w=f"{s['city']} {rng.choice(NICKNAMES)}", team_l=f"{away} {rng.choice(NICKNAMES)}",
        gw=gw, gl=rng.randint(0, gw - 1), minute=rng.randint(3, 88), crowd=f"{rng.randint(8000, 90000):,}",
        scored=rng.choice(["scored once", "scored twice", "scored a hat-trick"][: min(3, gw)]),
        points=rng.randint(1, 15), stadium=f"{rng.choice(LAST_NAMES)} Park", streak=rng.randint(3, 12),
        competition=rng.choice(["cup final", "semi-final", "league match", "playoff match", "title decider"]),
    )


def _storm(rng, s):
    s.update(
        storm=f"{rng.choice(['Hurricane', 'Typhoon', 'Storm', 'Cyclone'])} {rng.choice(FIRST_NAMES)}",
        wind=rng.randint(70, 190), dead=rng.randint(1, 60), no_power=f"{rng.randint(10, 900) * 1000:,}",
        evacuated=f"{rng.randint(20, 3000) * 100:,}", damage=_money(rng, "billion"),
        since_year=s["year"] - rng.randint(5, 60),
    )


def _trial(rng, s):
    crimes = [f"defrauding investors of {_money(rng, 'million')}", "murdering a business partner",
              f"embezzling {_money(rng, 'million')} from a charity", "running a smuggling ring",
              f"taking bribes worth {_money(rng, 'million')}"]
    s.update(
        age=rng.randint(19, 74), years=rng.randint(2, 30), jury_hours=rng.randint(3, 40),
        crime=rng.choice(crimes), inv_years=rng.randint(2, 9), arrest_month=rng.choice(MONTHS),
        arrest_year=s["year"] - rng.randint(1, 3),
    )


def _merger(rng, s):
    heads, tails = rng.sample(ORG_HEADS, 2), rng.sample(ORG_TAILS, 2)
    buyer, target = f"{heads[0]} {tails[0]}", f"{heads[1]} {tails[1]}"
    s.update(
        buyer=buyer, target=target, value=_money(rng, "billion"), jobs=f"{rng.randint(2, 90) * 100:,}",
        share_pct=rng.randint(20, 199) / 10, close_year=s["year"] + 1, founded=rng.randint(1850, 1995),
        staff=f"{rng.randint(5, 400) * 100:,}", org3=f"{rng.choice(ORG_HEADS)} Capital",
        sector=rng.choice(["energy", "banking", "pharmaceutical", "technology", "shipping", "food"]),
    )


def _discovery(rng, s):
    find, fossil = rng.choice([
        ("the fossil of a giant flying reptile", True), ("the skeleton of an extinct giant tortoise", True),
        ("the fossilised footprints of a dinosaur herd", True), ("a hoard of gold coins", False),
        ("the remains of an ancient settlement", False), ("a lost Roman road", False),
        ("a cave decorated with prehistoric paintings", False),
    ])
    # Fossils are millions of years old and human traces thousands, so the stated age fits the find.
    age = f"{rng.randint(2, 240)} million years" if fossil else f"{rng.randint(2, 95) * 1000:,} years"
    s.update(
        find=find, age_str=age, uni_city=rng.choice(PLACES)[0], team_size=rng.randint(4, 60),
        months=rng.randint(2, 30), grant=_money(rng, "million"),
        journal=rng.choice(["Nature", "Science", "Current Biology", "Scientific Reports", "Antiquity"]),
    )


def _robbery(rng, s):
    n = rng.randint(2, 7)
    s.update(
        n_robbers=n, arrested=rng.randint(1, n), minutes=rng.randint(3, 25), loot=_money(rng, "million"),
        reward=f"${rng.randint(5, 250) * 1000:,}", ordinal=rng.choice(["second", "third", "fourth", "fifth"]),
        store=rng.choice(["jewellery store", "bank branch", "art gallery", "casino", "watch shop"]),
    )


class Key(NamedTuple):
    """One key fact: how the article may state it, and how a highlight may paraphrase it.

    A paraphrase uses only slots present in *every* article variant, so it is always grounded."""

    article: tuple[str, ...]
    paraphrases: tuple[str, ...]


class Event(NamedTuple):
    sample_slots: Callable[[random.Random, dict], None]
    keys: list[Key]  # keys[0] is the lead fact, always summarised
    fillers: list[str]  # event-specific background, never summarised


EVENTS = {
    "fire": Event(_fire, [
        Key(("A fire tore through a {building} in {city}, {country}, on {weekday}, killing {dead} people "
             "and injuring {injured} others.",
             "At least {dead} people were killed when a fire swept through a {building} in {city}, "
             "{country}, on {weekday}."),
            ("Fire at a {building} in {city} kills {dead} people on {weekday}.",
             "{dead} people died in a {building} fire in {city}, {country}.")),
        Key(("More than {crews} firefighters battled the blaze for {hours} hours before it was brought "
             "under control.",),
            ("It took {crews} firefighters {hours} hours to control the blaze.",)),
        Key(("Fire chief {p1} said the blaze was most likely caused by {cause}.",),
            ("{p1} says {cause} probably started the fire.",)),
        Key(("Investigators said the {building} had failed a safety inspection in {inspect_year}.",),
            ("The {building} failed a safety inspection in {inspect_year}.",)),
    ], ['"The smoke was so thick that we could not see the stairs," said {p2}, who escaped from the '
        "second floor.",
        "Ambulances lined the street as paramedics treated survivors for smoke inhalation.",
        "Neighbours said the building had been home to dozens of families and several small shops.",
        "A vigil for the victims is planned for {next_weekday} evening outside the city hall."]),
    "election": Event(_election, [
        Key(("{p1} of the {party_w} has been elected {office}, winning {pct_w}% of the vote in {weekday}'s "
             "election.",
             "Voters handed {p1} a clear victory on {weekday}, electing the {party_w} candidate as "
             "{office}."),
            ("{p1} wins the election to become {office}.",
             "{p1} of the {party_w} is elected {office} on {weekday}.")),
        Key(("Official results showed {p1} well ahead of {p3} of the {party_r}, who won {pct_r}% of the "
             "vote.",),
            ("{p3} of the {party_r} finished second with {pct_r}% of the vote.",)),
        Key(("Turnout was {turnout}%, the highest since {since_year}, according to the electoral "
             "commission.",),
            ("Turnout reached {turnout}%, the highest since {since_year}.",)),
        Key(("{p1_last}, {age}, a former {prev_job}, will be sworn in on {month} {day}.",),
            ("The {age}-year-old former {prev_job} takes office on {month} {day}.",)),
    ], ["Supporters gathered outside the {party_w} headquarters in {city}, waving flags late into the night.",
        '"This is a victory for every family that felt forgotten," {p1_last} told the crowd.',
        "{p3} conceded defeat shortly after midnight and called for unity.",
        "The campaign was dominated by arguments over taxes, housing and public transport."]),
    "match": Event(_match, [
        Key(("{team_w} beat {team_l} {gw}-{gl} in the {competition} on {weekday} in front of a crowd of "
             "{crowd}.",
             "{team_w} secured a {gw}-{gl} win over {team_l} in {weekday}'s {competition} at {stadium}."),
            ("{team_w} defeat {team_l} {gw}-{gl} in the {competition}.",
             "{team_l} lose {gw}-{gl} to {team_w} on {weekday}.")),
        Key(("{p1} {scored} for the winners, opening the scoring after {minute} minutes.",),
            ("{p1} {scored} for {team_w}.",)),
        Key(("{team_w} coach {p2} said the team had shown real character after a difficult season.",),
            ("{p2} praises the character of the {team_w} players.",)),
        Key(("The result leaves {team_w} {points} points clear of {team_l} in the table.",),
            ("{team_w} are now {points} points clear of {team_l}.",)),
    ], ["{team_l} had won their previous {streak} matches and started the game as favourites.",
        '"We made too many mistakes and we were punished for them," said {team_l} captain {p3}.',
        "Fans celebrated in the streets of {city} long after the final whistle.",
        "Ticket prices for the game had been criticised by supporters' groups."]),
    "storm": Event(_storm, [
        Key(("{storm} slammed into {city}, {country}, on {weekday} with winds of up to {wind} mph, killing "
             "at least {dead} people.",),
            ("{storm} kills at least {dead} people in {country}.",
             "{storm} hits {city} with winds of {wind} mph.")),
        Key(("About {no_power} homes were left without power, and {evacuated} residents were moved to "
             "shelters.",),
            ("{no_power} homes lost power and {evacuated} residents were evacuated.",)),
        Key(("Forecaster {p1} warned that heavy rain would continue until {next_weekday}, raising the risk "
             "of floods.",),
            ("Heavy rain is expected to continue until {next_weekday}, {p1} warns.",)),
        Key(("Insurers estimate the damage at {damage}, making it the costliest storm in the region since "
             "{since_year}.",),
            ("Damage is estimated at {damage}, the worst since {since_year}.",)),
    ], ['"The wind sounded like a freight train," said {p2}, who spent the night in a school gym.',
        "Trees were uprooted across the city, blocking roads and crushing parked cars.",
        "Schools and government offices will remain closed for the rest of the week.",
        "The storm had weakened slightly before making landfall, according to satellite data."]),
    "trial": Event(_trial, [
        Key(("A court in {city} on {weekday} sentenced {p1}, {age}, to {years} years in prison for {crime}.",
             "{p1}, {age}, was jailed for {years} years on {weekday} after a jury in {city} found the "
             "defendant guilty of {crime}."),
            ("{p1} is sentenced to {years} years for {crime}.",
             "{p1}, {age}, is jailed for {years} years in {city}.")),
        Key(("The jury deliberated for {jury_hours} hours before returning a unanimous verdict.",),
            ("The jury took {jury_hours} hours to reach a unanimous verdict.",)),
        Key(('Judge {p2} told the court that the crimes had caused "lasting harm" to the victims.',),
            ("{p2} says the crimes caused lasting harm.",)),
        Key(("Prosecutors said {p1_last} had been under investigation for {inv_years} years before being "
             "arrested in {arrest_month} {arrest_year}.",),
            ("{p1_last} was arrested in {arrest_month} {arrest_year} after a {inv_years}-year "
             "investigation.",)),
    ], ["Relatives of the victims hugged each other in the public gallery as the sentence was read out.",
        "Defence lawyer {p3} said the verdict would be appealed.",
        "The case attracted widespread attention in {country}, where such trials are rare.",
        "Outside the courthouse, a small group of protesters held up handwritten signs."]),
    "merger": Event(_merger, [
        Key(("{buyer} has agreed to buy {target} for {value}, creating one of the largest {sector} groups "
             "in {country}.",),
            ("{buyer} agrees to buy {target} for {value}.",
             "{target} is being bought by {buyer} in a {value} deal.")),
        Key(("The combined company will cut about {jobs} jobs and keep its headquarters in {city}.",),
            ("About {jobs} jobs will be cut after the deal.",)),
        Key(('Chief executive {p1} said the deal would "strengthen our position" and should close by '
             "{close_year}.",),
            ("{p1} expects the deal to close by {close_year}.",)),
        Key(("Shares in {target} rose {share_pct}% on {weekday} after the announcement.",),
            ("{target} shares jump {share_pct}% on {weekday}.",)),
    ], ["Analysts said regulators in several countries would need to approve the deal.",
        '"The logic of this merger is obvious, but the price is high," said {p2}, an analyst at {org3}.',
        "Unions said they would fight any compulsory redundancies.",
        "{target} was founded in {founded} and employs about {staff} people."]),
    "discovery": Event(_discovery, [
        Key(("Scientists from the University of {uni_city} have discovered {find} in {country}, the team "
             "announced on {weekday}.",),
            ("University of {uni_city} scientists discover {find} in {country}.",)),
        Key(("The team of {team_size} researchers, led by {p1}, spent {months} months working near {city}.",),
            ("{p1} led a team of {team_size} researchers near {city}.",)),
        Key(("The findings were published this week in the journal {journal}.",),
            ("The findings appear in the journal {journal}.",)),
        Key(("Tests suggest the find is about {age_str} old, older than experts had expected.",),
            ("The find is thought to be about {age_str} old.",)),
    ], ['"We could hardly believe what we were looking at," said {p2}, a student on the team.',
        "Local farmers had reported unusual finds in the area for years, but no survey had been carried out.",
        "The site will be closed to the public while excavation continues.",
        "Funding for the project came partly from a government grant of {grant}."]),
    "robbery": Event(_robbery, [
        Key(("A gang of {n_robbers} armed robbers stole {loot} from a {store} in {city}, {country}, "
             "on {weekday}.",),
            ("Robbers steal {loot} from a {store} in {city}.",
             "{n_robbers} armed robbers raid a {store} in {city}.")),
        Key(("Police said the raid lasted just {minutes} minutes and that no one was seriously hurt.",),
            ("The raid took only {minutes} minutes, police say.",)),
        Key(("{arrested} suspects were arrested on {next_weekday}, police spokesperson {p1} said.",),
            ("Police have arrested {arrested} suspects, according to {p1}.",)),
        Key(("A reward of {reward} has been offered for information leading to the recovery of the "
             "stolen goods.",),
            ("A {reward} reward has been offered for information.",)),
    ], ['"They were in and out before anyone knew what was happening," said {p2}, who works next door.',
        "Security camera footage showed the gang arriving in two dark vans shortly after opening time.",
        "It was the {ordinal} major robbery in the city this year.",
        "Shop owners in the area said they would review their security arrangements."]),
}
# Background sentences shared by all events: they carry names and numbers too, so a summarizer has to
# select facts rather than copy every entity it sees.
GENERIC_FILLERS = [
    "{city} has a population of about {population} people.",
    "The mood in {city} was tense on {weekday} evening, residents said.",
    '"I have lived here for {resident_years} years and I have never seen anything like this," said {p4}.',
    "Officials said more information would be released in the coming days.",
    "The story dominated front pages across {country} on {next_weekday}.",
    "Reporters from around the world travelled to {city} to cover the news.",
    "In {past_year}, {city} made headlines for different reasons when it hosted an international festival.",
    "Messages poured in on social media from across {country} within minutes of the news breaking.",
    "{p5}, who runs a cafe in the city centre, said it was all anyone was talking about.",
    "The national government has not yet commented publicly on the matter.",
    "Many residents said they first heard the news from friends and neighbours.",
    "Earlier this month, {p6} of the {city} chamber of commerce described the local economy as fragile.",
    "The region has struggled with high unemployment since {past_year}, according to official figures.",
    "About {visitors} tourists visit {city} each year, according to the local tourism office.",
    "Local radio stations interrupted their regular programmes to carry the news.",
    "A poll published in {poll_month} found that {poll_pct}% of residents were optimistic about the future.",
    "The city council is due to meet on {next_weekday} to discuss its response.",
    "Residents interviewed by CNN gave mixed reactions, with some calling for calm and others for answers.",
    "It is the biggest story in {city} since {past_year}, local journalists said.",
]
MIN_SENTENCES, MAX_SENTENCES, MIN_WORDS, MAX_WORDS = 8, 20, 150, 450


def _n_words(sentences: list[str]) -> int:
    return sum(len(x.split()) for x in sentences)


def _one_example(rng: random.Random) -> dict:
    city, country = rng.choice(PLACES)
    people: list[tuple[str, str]] = []
    while len(people) < 6:  # distinct surnames, so a later "{p1_last} said" refers to exactly one person
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if all(last != p[1] for p in people):
            people.append((first, last))
    wd = rng.randrange(7)
    year = rng.randint(2005, 2015)  # the era the real CNN/DailyMail stories come from
    s = dict(
        city=city, country=country, weekday=WEEKDAYS[wd], next_weekday=WEEKDAYS[(wd + rng.randint(1, 3)) % 7],
        month=rng.choice(MONTHS), day=rng.randint(1, 28), year=year, age=rng.randint(35, 72),
        population=f"{rng.randint(40, 4000) * 1000:,}", resident_years=rng.randint(3, 60),
        past_year=year - rng.randint(2, 30), visitors=f"{rng.randint(20, 9000) * 1000:,}",
        poll_month=rng.choice(MONTHS), poll_pct=rng.randint(12, 88),
    )
    for i, (first, last) in enumerate(people, start=1):
        s[f"p{i}"], s[f"p{i}_last"] = f"{first} {last}", last
    event = EVENTS[rng.choice(sorted(EVENTS))]
    event.sample_slots(rng, s)
    keys = event.keys

    key_article = [rng.choice(key.article).format(**s) for key in keys]
    fillers = [t.format(**s) for t in event.fillers + GENERIC_FILLERS]
    rng.shuffle(fillers)

    # Lead sentence opens the story most of the time; otherwise scene-setting comes first, so lead-3 is a
    # good but imperfect baseline. Remaining key facts are interleaved at random with background.
    intro = [fillers.pop() for _ in range(0 if rng.random() < 0.6 else rng.randint(1, 2))]
    n_body_fillers = rng.randint(MIN_SENTENCES, MAX_SENTENCES) - len(keys) - len(intro)
    body_fillers = [fillers.pop() for _ in range(max(0, n_body_fillers))]
    body, rest = [], key_article[1:]
    while rest or body_fillers:
        take_key = bool(rest) and rng.random() < 2 * len(rest) / (2 * len(rest) + len(body_fillers))
        body.append((rest if take_key else body_fillers).pop(0))
    sentences = intro + [key_article[0]] + body
    # Short templates can undershoot the word budget: top up (or trim) with background, never key facts.
    while _n_words(sentences) < MIN_WORDS and fillers and len(sentences) < MAX_SENTENCES:
        sentences.insert(rng.randint(len(intro) + 1, len(sentences)), fillers.pop())
    while _n_words(sentences) > MAX_WORDS and len(sentences) > MIN_SENTENCES:
        sentences.pop(max(i for i, x in enumerate(sentences) if x not in key_article))

    # A few articles carry paragraph breaks, which forces multi-line quoted CSV fields downstream.
    seps = [" "] * (len(sentences) - 1)
    if rng.random() < 0.15:
        for i in rng.sample(range(len(seps)), rng.randint(1, 3)):
            seps[i] = "\n"
    article = ("(CNN) -- " if rng.random() < 0.3 else "") + sentences[0]
    article += "".join(sep + x for sep, x in zip(seps, sentences[1:], strict=True))

    # Highlights: the lead fact always, plus 1-3 others in article order; each copied or paraphrased.
    chosen = [0] + sorted(rng.sample(range(1, len(keys)), rng.randint(1, min(3, len(keys) - 1))))
    lines = [
        key_article[i] if rng.random() < 0.4 else rng.choice(keys[i].paraphrases).format(**s) for i in chosen
    ]
    return {"id": f"{rng.getrandbits(160):040x}", "article": article, "highlights": "\n".join(lines)}


def generate_examples(num_examples: int, seed: int = 0) -> list[dict]:
    """Return dicts with keys id, article, highlights.

    Same seed -> identical output; different seeds differ."""
    if num_examples < 0:
        raise ValueError(f"num_examples must be >= 0, got {num_examples}")
    rng = random.Random(seed)  # private stream: callers' global random state is never touched
    examples, seen = [], set()
    while len(examples) < num_examples:
        ex = _one_example(rng)
        if ex["article"] not in seen and ex["id"] not in seen:  # practically never false; keeps ids unique
            seen.update((ex["article"], ex["id"]))
            examples.append(ex)
    return examples


def split_seed(seed: int, split: str) -> int:
    """Seed of one split's stream: hashed, not seed+1, so no split of seed 0 replays a split of seed 1."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{split}".encode()).digest()[:8], "big")


def write_corpus(
    output_dir: str | os.PathLike, num_train: int, num_validation: int, num_test: int, seed: int = 0
) -> dict[str, pathlib.Path]:
    """Write train.csv, validation.csv, test.csv in the Kaggle layout and return their paths.

    Each split has its own stream (``generate_examples(n, split_seed(seed, split))``), so the validation
    and test sets do not change when ``num_train`` does.
    """
    out = pathlib.Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths, seen = {}, set()
    for split, n in (("train", num_train), ("validation", num_validation), ("test", num_test)):
        rows = generate_examples(n, split_seed(seed, split))
        for row in rows:  # leakage between splits would silently inflate evaluation scores
            if row["id"] in seen or row["article"] in seen:
                raise RuntimeError(f"example {row['id']} of split {split!r} repeats an earlier split")
            seen.update((row["id"], row["article"]))
        paths[split] = out / f"{split}.csv"
        with open(paths[split], "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["id", "article", "highlights"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return paths


def main(argv=None) -> None:
    """CLI: python -m generated_news.corpus OUTPUT_DIR --num_train N --num_validation N ..."""
    parser = one_line_errors(argparse.ArgumentParser(
        prog="python -m generated_news.corpus", description="Write a synthetic CNN/DailyMail corpus as Kaggle CSVs."))
    parser.add_argument("output_dir", help="directory to write train.csv, validation.csv and test.csv into")
    parser.add_argument("--num_train", type=int, default=1000, help="training examples (default 1000)")
    parser.add_argument("--num_validation", type=int, default=100, help="validation examples (default 100)")
    parser.add_argument("--num_test", type=int, default=100, help="test examples (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; splits derive their own (default 0)")
    args = parser.parse_args(argv)
    for n in (args.num_train, args.num_validation, args.num_test):
        if n < 0:
            parser.error("example counts must be >= 0")
    paths = write_corpus(args.output_dir, args.num_train, args.num_validation, args.num_test, args.seed)
    for split, path in paths.items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
