"""The sentences of the mini corpus: connected digit strings and home-automation commands.

``digit_string(rng)`` gives 1-7 digits read as words (zero is "zero" or "oh");
``command(rng)`` expands a small grammar of spoken commands (lights, alarms, timers,
music, weather, messages, thermostat, doors, blinds, appliances, reminders). All
output is lower-case ASCII words, as the transcripts are written.
"""

from __future__ import annotations

import random

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

ROOMS = ["kitchen", "bedroom", "living room", "bathroom", "hallway", "office", "garage", "garden",
         "basement", "dining room"]
LIGHTS = ["lights", "lamp", "ceiling light", "floor lamp", "night light"]
COLORS = ["red", "blue", "green", "white", "warm white"]
DAYS = ["today", "tomorrow", "tonight", "on monday", "on tuesday", "on wednesday", "on thursday",
        "on friday", "on saturday", "on sunday", "this weekend", "this afternoon", "this evening"]
CONTACTS = ["anna", "david", "mom", "dad", "sarah", "lisa", "my sister"]
PHRASES = ["i am on my way", "dinner is ready", "i will be late", "call me back",
           "good night"]
GENRES = ["jazz", "rock", "pop", "the news", "the radio", "my playlist", "some music"]
FOODS = ["pasta", "rice", "eggs", "pizza", "tea"]
APPLIANCES = ["tv", "coffee maker", "dishwasher", "washing machine"]
TASKS = ["water the plants", "feed the cat", "buy milk", "call {contact}"]
UNITS = ["seconds", "minutes", "hours"]
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
PREFIXES = ["", "", "", "please", "can you", "could you", "hey house"]
QUESTION_WORDS = {"what", "how", "is", "are", "do", "will"}


def digit_string(rng: random.Random, min_len: int = 1, max_len: int = 7) -> str:
    """1-7 connected digits; zero is said "oh" about half the time, as in phone numbers."""
    words = []
    for _ in range(rng.randint(min_len, max_len)):
        d = rng.randrange(10)
        words.append(("oh" if rng.random() < 0.5 else "zero") if d == 0 else DIGITS[d])
    return " ".join(words)


def _number(rng: random.Random, low: int, high: int) -> str:
    n = rng.randint(low, high)
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return TEENS[n - 10]
    if n == 100:
        return "one hundred"
    return TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + DIGITS[n % 10])


def _time(rng: random.Random) -> str:
    hour = _pick(rng, DIGITS[1:] + TEENS[:3])
    minute = _pick(rng, ["", "fifteen", "thirty", "forty five", "oh five", "twenty"])
    part = _pick(rng, ["", "", "in the morning", "in the afternoon", "in the evening", "at night"])
    return " ".join(w for w in (hour, minute, part) if w)


def _percent(rng: random.Random) -> str:
    return rng.choice(TENS[:-1] + ["ten", "fifty", "one hundred"]) + " percent"


def _on_off(rng):
    return rng.choice(["turn on", "turn off", "switch on", "switch off"])


def _pick(rng, items):
    return rng.choice(items)


# Each template is a function of the random generator; a command picks one at random.
def _lights(rng):
    room, light = _pick(rng, ROOMS), _pick(rng, LIGHTS)
    return _pick(rng, [
        f"{_on_off(rng)} the {light} in the {room}",
        f"{_on_off(rng)} the {room} {light}",
        f"dim the {room} lights to {_percent(rng)}",
        f"set the {room} lights to {_pick(rng, COLORS)}",
        f"make the {room} lights {_pick(rng, ['dimmer', 'warmer'])}",
        f"turn all the lights {_pick(rng, ['on', 'off'])}",
        f"are the lights on in the {room}",
    ])


def _alarms(rng):
    return _pick(rng, [
        f"set an alarm for {_time(rng)}",
        f"set an alarm for {_time(rng)} {_pick(rng, DAYS)}",
        f"wake me up at {_time(rng)} {_pick(rng, DAYS)}",
        f"cancel my alarm {_pick(rng, DAYS)}",
        f"snooze the alarm for {_number(rng, 2, 15)} minutes",
        "turn off the alarm",
        "what time is my alarm set for",
    ])


def _timers(rng):
    return _pick(rng, [
        f"set a timer for {_number(rng, 2, 60)} {_pick(rng, UNITS)}",
        f"set a {_pick(rng, FOODS)} timer for {_number(rng, 2, 30)} minutes",
        f"add {_number(rng, 2, 20)} minutes to the timer",
        f"how much time is left on the {_pick(rng, FOODS + [''])} timer".replace("the  ", "the "),
        f"{_pick(rng, ['cancel', 'pause', 'stop', 'start'])} the timer",
    ])


def _music(rng):
    room = _pick(rng, ROOMS)
    return _pick(rng, [
        f"play {_pick(rng, GENRES)}",
        f"play {_pick(rng, GENRES)} in the {room}",
        f"{_pick(rng, ['pause', 'stop'])} the music",
        f"{_pick(rng, ['skip this song', 'play the next song'])}",
        f"turn the volume {_pick(rng, ['up', 'down'])}",
        f"set the volume to {_number(rng, 1, 10)}",
        "what song is this",
    ])


def _weather(rng):
    day = _pick(rng, DAYS)
    return _pick(rng, [
        f"what is the weather like {day}",
        f"will it {_pick(rng, ['rain', 'snow'])} {day}",
        f"how {_pick(rng, ['hot', 'warm'])} will it be {day}",
        f"do i need an umbrella {day}",
        "what is the temperature outside",
    ])


def _messages(rng):
    who = _pick(rng, CONTACTS)
    return _pick(rng, [
        f"send a message to {who} saying {_pick(rng, PHRASES)}",
        f"text {who} that {_pick(rng, PHRASES)}",
        f"call {who}",
        f"read my {_pick(rng, ['new', 'last', ''])} messages".replace("my  ", "my "),
        "do i have any new messages",
    ])


def _thermostat(rng):
    room = _pick(rng, ROOMS)
    return _pick(rng, [
        f"set the thermostat to {_number(rng, 15, 28)} degrees",
        f"set the {room} to {_number(rng, 15, 28)} degrees",
        f"turn the heating {_pick(rng, ['up', 'down', 'on', 'off'])}",
        f"make it {_pick(rng, ['warmer', 'cooler'])} in the {room}",
        f"what is the temperature in the {room}",
        f"turn {_pick(rng, ['on', 'off'])} the air conditioning",
    ])


def _house(rng):
    room = _pick(rng, ROOMS)
    return _pick(rng, [
        f"{_pick(rng, ['lock', 'unlock'])} the {_pick(rng, ['front', 'back'])} door",
        f"{_pick(rng, ['open', 'close'])} the garage door",
        f"{_pick(rng, ['open', 'close'])} the {_pick(rng, ['blinds', 'windows'])} in the {room}",
        f"{_on_off(rng)} the {_pick(rng, APPLIANCES)}",
        f"start the {_pick(rng, ['dishwasher', 'washing machine', 'coffee maker'])}",
        f"is the {_pick(rng, ['front', 'back', 'garage'])} door locked",
    ])


def _reminders(rng):
    task = _pick(rng, TASKS).format(contact=_pick(rng, CONTACTS))
    return _pick(rng, [
        f"remind me to {task} at {_time(rng)}",
        f"remind me to {task} {_pick(rng, DAYS)}",
        f"what is on my calendar {_pick(rng, DAYS)}",
        f"add {_pick(rng, ['milk', 'eggs', 'coffee', 'tea'])} to my shopping list",
    ])


TOPICS = [_lights, _alarms, _timers, _music, _weather, _messages, _thermostat, _house, _reminders]


def command(rng: random.Random) -> str:
    """One spoken home-automation command, e.g. "please dim the kitchen lights to forty percent"."""
    text = _pick(rng, TOPICS)(rng)
    # "please what is the weather" is not English: questions get no prefix.
    prefix = "" if text.split()[0] in QUESTION_WORDS else _pick(rng, PREFIXES)
    return " ".join((prefix + " " + text).split())
