"""A synthetic, labelled audio corpus, so that training runs on a fresh machine and experiments
are controlled (we know the true labels, and we choose how noisy the given ones are).

Each clip mixes 1-3 sources drawn from three domains:

* **speech** — real speech from espeak-ng when it is installed (male and female voices, five
  languages), otherwise formant-synthesised vowel/consonant babble with an intonation contour
  (labelled with the speaker only: it is no language);
* **music** — piano (decaying inharmonic partials), acoustic guitar and bass (Karplus-Strong),
  organ (drawbar sines), violin (bowed sawtooth with vibrato) playing pentatonic melodies, and
  drum patterns (kick, snare, hi-hat) at tempi from 70 to 160 bpm;
* **sound** — rain, wind, engine, siren, alarm, running water, dog barks and bird chirps.

Labels are UTS concepts resolved at run time *by label* from :data:`LABEL_TABLE` — the one place
that says which concept each generator depicts — so the generator follows the ontology as it
grows. The true labels (the sources' concepts closed over their ancestors) are written to
``labels_complete``; ``labels`` holds what a dataset would give, according to the label mode:
``complete`` (the truth), ``leaf-only`` (only the most specific labels, ancestors omitted, as in
most real datasets), ``dropped`` (each true label removed with probability ``drop_rate``) or
``wrong`` (each true label replaced, with probability ``wrong_rate``, by another generator's
concept). Captions are written from the true sources.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import soundfile as sf
from rich.progress import track
from scipy.signal import butter, lfilter, sosfilt

from uts.manifest import write_manifest
from uts.ontology import Ontology
from uts.ontology.graph import closure as graph_closure
from uts.training.audio import resample


# -- the label table: generator key -> UTS labels to try, most specific first ---------------------
# Each key is resolved to the first label that names exactly one concept. Keep this table in
# step with the shipped ontology; `uts synth` fails with the list of keys that resolve to nothing.
LABEL_TABLE: dict[str, tuple[str, ...]] = {
    # speech
    "speech": ("speech",),
    "male": ("male speaker", "male voice"),
    "female": ("female speaker", "female voice"),
    "en": ("English",),
    "fr": ("French",),
    "de": ("German",),
    "es": ("Spanish",),
    "it": ("Italian",),
    # music
    "music": ("music",),
    "piano": ("piano",),
    "guitar": ("acoustic guitar", "guitar"),
    "bass": ("bass guitar", "electric bass"),
    "organ": ("organ", "electronic organ", "hammond organ"),
    "violin": ("violin", "fiddle"),
    "kick": ("kick drum", "bass drum"),
    "snare": ("snare drum",),
    "hihat": ("hi-hat",),
    # environmental sound
    "rain": ("rain",),
    "wind": ("wind",),
    "engine": ("engine", "car"),
    "siren": ("siren",),
    "alarm": ("alarm", "beep"),
    "water": ("stream", "running water", "water"),
    "dog": ("dog",),
    "bark": ("bark",),
    "bird": ("bird", "bird vocalization"),
}
LANGUAGES = ("en", "fr", "de", "es", "it")
SENTENCES = {
    "en": ["The quick brown fox jumps over the lazy dog.", "Please call me back when you get home tonight.",
           "It was raining all morning, so we stayed inside.", "Turn left at the next corner and keep going."],
    "fr": ["Le petit chat dort sur le canapé du salon.", "Nous partirons demain matin vers la montagne.",
           "Il fait beau aujourd'hui, allons nous promener.", "Pouvez-vous répéter la question, s'il vous plaît?"],
    "de": ["Der Zug nach Berlin fährt in zehn Minuten ab.", "Wir treffen uns morgen früh vor dem Rathaus.",
           "Das Wetter ist heute wirklich wunderbar.", "Kannst du mir bitte das Salz geben?"],
    "es": ["El tren sale de la estación a las ocho.", "Mañana vamos a visitar a mis abuelos.",
           "Hace mucho calor en la ciudad este verano.", "¿Dónde está la biblioteca más cercana?"],
    "it": ["Il treno per Roma parte tra dieci minuti.", "Domani andiamo al mare con gli amici.",
           "Oggi il cielo è sereno e fa caldo.", "Scusi, sa dov'è la stazione centrale?"],
}
LABEL_MODES = ("complete", "leaf-only", "dropped", "wrong")
MIXTURE_WEIGHTS = (0.4, 0.35, 0.25)  # how often a clip mixes 1, 2 or 3 sources
DOMAINS = ("speech", "music", "sound")


class SynthError(ValueError):
    """The corpus cannot be generated as asked (bad options, labels missing from the ontology)."""


# -- small signal helpers ---------------------------------------------------------------------------
def _t(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def _rms_normalise(x: np.ndarray, target: float = 0.1) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x ** 2))) if x.size else 0.0
    return x * (target / rms) if rms > 1e-9 else x


def _band(x: np.ndarray, sr: int, lo: float | None, hi: float | None, order: int = 4) -> np.ndarray:
    nyq = sr / 2
    if lo and hi:
        sos = butter(order, [lo / nyq, min(hi / nyq, 0.99)], btype="band", output="sos")
    elif lo:
        sos = butter(order, lo / nyq, btype="high", output="sos")
    else:
        sos = butter(order, min(hi / nyq, 0.99), btype="low", output="sos")
    return sosfilt(sos, x)


def _smooth_noise(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """A slowly varying random curve in [0, 1] (for gusts, amplitude drifts)."""
    knots = max(2, int(n / sr * rate_hz) + 2)
    curve = np.interp(np.linspace(0, knots - 1, n), np.arange(knots), rng.random(knots))
    return curve


def _env(n: int, sr: int, attack: float, decay: float | None = None, release: float = 0.01) -> np.ndarray:
    t = _t(n, sr)
    env = np.minimum(1.0, t / max(attack, 1e-4))
    if decay is not None:
        env *= np.exp(-t / decay)
    r = int(release * sr)
    if 0 < r < n:
        env[-r:] *= np.linspace(1, 0, r)
    return env


def _place(out: np.ndarray, sig: np.ndarray, at: int) -> None:
    if at >= len(out):
        return
    m = min(len(sig), len(out) - at)
    out[at:at + m] += sig[:m]


PENTATONIC = np.array([0, 2, 4, 7, 9])


def _melody(rng: np.random.Generator, n: int, sr: int, bpm: float, low_midi: int, span: int = 12):
    """Note events ``(start_sample, length_samples, frequency)`` of a pentatonic random walk."""
    beat = 60.0 / bpm
    notes, t, step = [], 0.0, int(rng.integers(0, 5))
    total = n / sr
    while t < total:
        length = beat * float(rng.choice([0.5, 1.0, 1.0, 2.0]))
        step = int(np.clip(step + rng.integers(-2, 3), 0, span // 12 * 5 + 4))
        midi = low_midi + 12 * (step // 5) + PENTATONIC[step % 5]
        notes.append((int(t * sr), int(length * sr), 440.0 * 2 ** ((midi - 69) / 12)))
        t += length
    return notes


# -- music generators -------------------------------------------------------------------------------
def _piano_note(f0: float, n: int, sr: int) -> np.ndarray:
    t = _t(n, sr)
    x = np.zeros(n)
    for k in range(1, 9):
        fk = k * f0 * np.sqrt(1 + 1e-4 * k * k)  # stiff-string inharmonicity
        if fk >= sr / 2:
            break
        x += np.sin(2 * np.pi * fk * t) * np.exp(-t * (1.2 + 0.9 * k)) / k
    return x * _env(n, sr, 0.003)


def _karplus_strong(rng: np.random.Generator, f0: float, n: int, sr: int, rho: float, bright: float) -> np.ndarray:
    """Plucked string: a noise burst circulating in a delay line with a two-point average."""
    period = max(2, int(round(sr / f0)))
    burst = rng.uniform(-1, 1, period)
    burst = lfilter([bright], [1, bright - 1], burst)  # one-pole low-pass: darker attack
    x = np.zeros(n)
    x[:period] = burst[: min(period, n)]
    a = np.zeros(period + 2)
    a[0], a[period], a[period + 1] = 1.0, -rho / 2, -rho / 2
    return lfilter([1.0], a, x)


def _instrument(kind: str):
    def gen(rng: np.random.Generator, n: int, sr: int, ctx: dict):
        bpm = float(rng.integers(70, 161))
        low = {"piano": 57, "guitar": 52, "bass": 33, "organ": 55, "violin": 67}[kind]
        out = np.zeros(n)
        for start, length, f0 in _melody(rng, n, sr, bpm, low):
            ring = min(n - start, int(length + 0.8 * sr)) if kind in ("piano", "guitar", "bass") else min(n - start, length)
            if ring <= 0:
                continue
            if kind == "piano":
                note = _piano_note(f0, ring, sr)
            elif kind in ("guitar", "bass"):
                note = _karplus_strong(rng, f0, ring, sr, rho=0.996 if kind == "guitar" else 0.998,
                                       bright=0.7 if kind == "guitar" else 0.25)
            elif kind == "organ":
                t = _t(ring, sr)
                note = sum(a * np.sin(2 * np.pi * m * f0 * t) for m, a in ((0.5, 0.5), (1, 1.0), (2, 0.6), (3, 0.35), (4, 0.25))
                           if m * f0 < sr / 2)
                note = note * (1 + 0.15 * np.sin(2 * np.pi * 6.5 * t)) * _env(ring, sr, 0.01, release=0.02)
            else:  # violin: bowed sawtooth with delayed vibrato
                t = _t(ring, sr)
                vib = 1 + 0.006 * np.minimum(1, t / 0.25) * np.sin(2 * np.pi * 5.5 * t)
                phase = np.cumsum(f0 * vib) / sr
                saw = 2 * (phase - np.floor(phase + 0.5))
                note = _band(saw, sr, 200, 5000, order=2) * _env(ring, sr, 0.08, release=0.05)
            _place(out, note, start)
        phrase = {"piano": "playing a melody", "guitar": "plucked", "bass": "playing a bass line",
                  "organ": "holding chords", "violin": "playing a bowed melody"}[kind]
        return out, ["music", kind], f"{{a_{kind}}} {phrase} at {bpm:.0f} bpm"
    return gen


def _drums(rng: np.random.Generator, n: int, sr: int, ctx: dict):
    bpm = float(rng.integers(70, 161))
    step = 60.0 / bpm / 4  # sixteenth notes
    kit = [p for p in ("kick", "snare", "hihat") if p in ctx.get("drum_parts", ("kick", "snare", "hihat"))]
    parts = [p for p in kit if rng.random() < 0.7] or [str(rng.choice(kit))]
    out = np.zeros(n)
    hits = {"kick": [0, 8] + ([10] if rng.random() < 0.5 else []), "snare": [4, 12], "hihat": list(range(0, 16, 2))}
    kick_n, snare_n, hat_n = int(0.3 * sr), int(0.2 * sr), int(0.06 * sr)
    t_k, t_s = _t(kick_n, sr), _t(snare_n, sr)
    kick = np.sin(2 * np.pi * np.cumsum(50 + 100 * np.exp(-t_k * 30)) / sr) * np.exp(-t_k * 12)
    snare = (0.6 * _band(rng.standard_normal(snare_n), sr, 1500, 7000, 2) + 0.5 * np.sin(2 * np.pi * 185 * t_s)) * np.exp(-t_s * 25)
    hat = _band(rng.standard_normal(hat_n), sr, 7000, None, 2) * np.exp(-_t(hat_n, sr) * 70) * 0.5
    sounds = {"kick": kick, "snare": snare, "hihat": hat}
    bars = int(np.ceil(n / sr / (16 * step))) + 1
    for bar in range(bars):
        for part in parts:
            for s in hits[part]:
                _place(out, sounds[part] * rng.uniform(0.8, 1.0), int((bar * 16 + s) * step * sr))
    names = ", ".join("{" + p + "}" for p in parts)
    return out, ["music", *parts], f"a drum pattern ({names}) at {bpm:.0f} bpm"


# -- environmental generators ------------------------------------------------------------------------
def _rain(rng, n, sr, ctx):
    bed = _band(rng.standard_normal(n), sr, 400, 6000, 2) * 0.3
    drops = np.zeros(n)
    count = int(rng.poisson(150 * n / sr))
    drops[rng.integers(0, n, count)] = rng.uniform(0.3, 1.0, count) * rng.choice([-1, 1], count)
    drops = _band(drops, sr, 1500, 7000, 2)
    return bed + drops, ["rain"], "{rain} falling"


def _wind(rng, n, sr, ctx):
    gust = 0.2 + _smooth_noise(rng, n, sr, 0.8)
    x = _band(rng.standard_normal(n), sr, None, float(rng.uniform(300, 900)), 2) * gust
    return x + 0.3 * _band(rng.standard_normal(n), sr, 600, 1500, 2) * gust ** 2, ["wind"], "{wind} blowing in gusts"


def _engine(rng, n, sr, ctx):
    t = _t(n, sr)
    rpm = float(rng.uniform(25, 45)) * (1 + 0.4 * _smooth_noise(rng, n, sr, 0.5))  # firing rate, Hz
    phase = np.cumsum(rpm) / sr
    pulses = np.maximum(0, np.sin(2 * np.pi * phase)) ** 8
    rumble = _band(pulses + 0.2 * rng.standard_normal(n), sr, None, 900, 4)
    return rumble + 0.05 * np.sin(2 * np.pi * 2 * phase), ["engine"], "{a_engine} running"


def _siren(rng, n, sr, ctx):
    t = _t(n, sr)
    if rng.random() < 0.5:  # wail
        f = 950 + 400 * np.sin(2 * np.pi * t / float(rng.uniform(1.5, 3.5)))
    else:  # hi-lo
        f = np.where((t // 0.5) % 2 == 0, 960.0, 770.0)
    phase = 2 * np.pi * np.cumsum(f) / sr
    return np.sin(phase) + 0.3 * np.sin(3 * phase) + 0.1 * np.sin(5 * phase), ["siren"], "{a_siren} wailing"


def _alarm(rng, n, sr, ctx):
    t = _t(n, sr)
    f = float(rng.choice([2000, 2500, 3000]))
    rate = float(rng.uniform(3, 6))
    gate = ((t * rate) % 1.0) < 0.5
    square = sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 3, 5) if k * f < sr / 2)  # band-limited
    return square * gate * 0.5, ["alarm"], "{a_alarm} beeping"


def _water(rng, n, sr, ctx):
    out = _band(rng.standard_normal(n), sr, 300, 3000, 2) * 0.4
    for _ in range(int(rng.poisson(60 * n / sr))):  # bubbles: rising, fast-decaying sines
        m = int(rng.uniform(0.01, 0.04) * sr)
        tb = _t(m, sr)
        f0 = float(rng.uniform(400, 2000))
        bubble = np.sin(2 * np.pi * np.cumsum(f0 * (1 + 4 * tb)) / sr) * np.exp(-tb * 120)
        _place(out, bubble * rng.uniform(0.3, 1.0), int(rng.integers(0, n)))
    return out, ["water"], "{water} bubbling"


def _dog(rng, n, sr, ctx):
    out = np.zeros(n)
    at = int(rng.uniform(0, 0.3) * sr)
    barks = 0
    while at < n:
        m = int(rng.uniform(0.1, 0.2) * sr)
        tb = _t(m, sr)
        f0 = float(rng.uniform(350, 650)) * (1 - 0.35 * tb / tb[-1])
        phase = np.cumsum(f0) / sr
        voiced = sum(np.sin(2 * np.pi * k * phase) / k for k in range(1, 8))
        bark = _band(voiced + 0.6 * rng.standard_normal(m), sr, 300, 3500, 2) * np.exp(-tb * 18) * np.minimum(1, tb / 0.005)
        _place(out, bark, at)
        barks += 1
        at += m + int(rng.uniform(0.15, 0.5) * sr)
    return out, ["dog", "bark"], "{a_dog} barking"


def _bird(rng, n, sr, ctx):
    out = np.zeros(n)
    at = int(rng.uniform(0, 0.2) * sr)
    base = float(rng.uniform(2500, 5000))
    while at < n:
        m = int(rng.uniform(0.04, 0.12) * sr)
        tb = _t(m, sr)
        f = base * (1 + 0.3 * np.sin(2 * np.pi * float(rng.uniform(20, 40)) * tb) + float(rng.uniform(-0.3, 0.3)) * tb / tb[-1])
        _place(out, np.sin(2 * np.pi * np.cumsum(f) / sr) * np.hanning(m), at)
        at += m + int(rng.uniform(0.03, 0.4) * sr)
    return out, ["bird"], "{a_bird} chirping"


# -- speech ---------------------------------------------------------------------------------------
VOICES = {"male": ("m1", "m3", "m7"), "female": ("f1", "f2", "f4")}
VOWEL_FORMANTS = {  # (F1, F2, F3) in Hz, adult male; scaled up for female voices
    "a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010), "o": (570, 840, 2410), "u": (300, 870, 2240),
}


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def _espeak(text: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    proc = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                          capture_output=True, timeout=60, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise SynthError(f"espeak-ng failed for voice {voice}: {proc.stderr.decode(errors='replace').strip()}")
    x, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    return (x.mean(axis=1) if x.ndim > 1 else x), sr


@dataclass
class SpeechPool:
    """Utterances to cut speech sources from: (language, gender) -> list of waveforms.

    espeak-ng calls are the slow part of synthesis, so every sentence is spoken once per
    language and gender (voice, rate and pitch varied) and clips reuse them.
    """

    sample_rate: int
    backend: str  # "espeak" or "numpy"
    utterances: dict[tuple[str | None, str], list[np.ndarray]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # language -> why espeak-ng could not speak it

    @property
    def languages(self) -> list[str]:
        """Languages spoken by both genders (the ones clips may use)."""
        return sorted({lang for lang, _ in self.utterances if all((lang, g) in self.utterances for g in VOICES)})

    @classmethod
    def build(cls, sample_rate: int, backend: str = "auto", languages: Sequence[str] = LANGUAGES,
              seed: int = 0) -> "SpeechPool":
        if backend == "auto":
            backend = "espeak" if espeak_available() else "numpy"
        if backend == "espeak" and not espeak_available():
            raise SynthError("espeak-ng is not installed; use the numpy speech backend")
        pool = cls(sample_rate, backend)
        if backend == "numpy":
            return pool  # generated per clip; cheap
        rng = np.random.default_rng([seed, 7])
        jobs = []
        for lang in languages:
            for gender, variants in VOICES.items():
                for j, sentence in enumerate(SENTENCES[lang]):
                    voice = f"{lang}+{variants[j % len(variants)]}"
                    jobs.append(((lang, gender), sentence, voice, int(rng.integers(140, 190)), int(rng.integers(30, 70))))
        def speak(job):
            try:
                return _espeak(job[1], job[2], job[3], job[4])
            except (SynthError, OSError, subprocess.TimeoutExpired) as exc:
                return exc

        with ThreadPoolExecutor(max_workers=4) as ex:
            results = list(ex.map(speak, jobs))
        for (key, *_), result in zip(jobs, results):
            if isinstance(result, Exception):
                pool.failed.setdefault(key[0], str(result))
            else:
                pool.utterances.setdefault(key, []).append(resample(result[0], result[1], sample_rate))
        # A language some voice could not speak is left out altogether (the voices must match).
        pool.utterances = {k: v for k, v in pool.utterances.items() if k[0] not in pool.failed}
        return pool


def _formant_speech(rng: np.random.Generator, n: int, sr: int, gender: str) -> np.ndarray:
    """Pure-numpy stand-in for speech: syllables of a fricative burst and a formant-filtered
    glottal sawtooth, with a falling intonation contour and small pitch wobble."""
    base = float(rng.uniform(100, 135)) if gender == "male" else float(rng.uniform(190, 240))
    scale = 1.0 if gender == "male" else 1.17
    t = _t(n, sr)
    f0 = base * (1.1 - 0.2 * (t % 1.6) / 1.6) * (1 + 0.05 * np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6)))
    phase = np.cumsum(f0) / sr
    source = 2 * (phase - np.floor(phase + 0.5))
    out = np.zeros(n)
    at = int(rng.uniform(0, 0.1) * sr)
    while at < n:
        syl = int(rng.uniform(0.14, 0.26) * sr)
        seg = source[at:at + syl].copy()
        y = seg
        for formant, bw in zip(np.array(VOWEL_FORMANTS[str(rng.choice(list(VOWEL_FORMANTS)))]) * scale, (80, 100, 120)):
            r, theta = np.exp(-np.pi * bw / sr), 2 * np.pi * formant / sr
            y = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], y)
        y = y * np.hanning(len(y))
        if rng.random() < 0.6:  # consonant: a short fricative before the vowel
            m = int(0.04 * sr)
            _place(out, _band(rng.standard_normal(m), sr, 3000, 7500, 2) * np.hanning(m) * 0.05, max(0, at - m // 2))
        _place(out, y, at)
        at += syl + (int(rng.uniform(0.15, 0.4) * sr) if rng.random() < 0.15 else 0)  # occasional pause
    return out


def _speech(rng: np.random.Generator, n: int, sr: int, ctx: dict):
    pool: SpeechPool = ctx["speech_pool"]
    gender = str(rng.choice(["male", "female"]))
    if pool.backend == "numpy":
        return _formant_speech(rng, n, sr, gender), ["speech", gender], f"{{a_{gender}}} babbling"
    lang = str(rng.choice(pool.languages))
    utts = pool.utterances[(lang, gender)]
    out, at = np.zeros(n), 0
    start = int(rng.integers(0, max(1, len(utts[0]) // 2)))
    while at < n:  # consecutive utterances of one speaker, separated by short pauses
        u = utts[int(rng.integers(0, len(utts)))][start:]
        start = 0
        _place(out, u, at)
        at += len(u) + int(rng.uniform(0.1, 0.3) * sr)
    return out, ["speech", gender, lang], f"{{a_{gender}}} talking in {{{lang}}}"


# domain -> generator name -> function(rng, n, sr, ctx) -> (signal, LABEL_TABLE keys, caption template)
Generator = Callable[[np.random.Generator, int, int, dict], tuple[np.ndarray, list[str], str]]
GENERATORS: dict[str, dict[str, Generator]] = {
    "speech": {"speech": _speech},
    "music": {"piano": _instrument("piano"), "guitar": _instrument("guitar"), "bass": _instrument("bass"),
              "organ": _instrument("organ"), "violin": _instrument("violin"), "drums": _drums},
    "sound": {"rain": _rain, "wind": _wind, "engine": _engine, "siren": _siren, "alarm": _alarm,
              "water": _water, "dog": _dog, "bird": _bird},
}


def _keys_needed(domains: Sequence[str], speech_backend: str) -> list[str]:
    keys = {"speech": ["speech", "male", "female"] + (list(LANGUAGES) if speech_backend == "espeak" else []),
            "music": ["music", "piano", "guitar", "bass", "organ", "violin", "kick", "snare", "hihat"],
            "sound": ["rain", "wind", "engine", "siren", "alarm", "water", "dog", "bark", "bird"]}
    return [k for d in domains for k in keys[d]]


# -- label resolution ------------------------------------------------------------------------------
def resolve_labels(onto: Ontology, keys: Sequence[str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Resolve :data:`LABEL_TABLE` keys to UTS ids: ``(resolved, problems)``.

    A key takes the first of its labels that names exactly one active concept (an exact label
    or synonym beats a normalised match). ``problems`` maps each unresolved key to why.
    """
    resolved, problems = {}, {}
    for key in keys if keys is not None else LABEL_TABLE:
        why = []
        for label in LABEL_TABLE[key]:
            cid = onto.resolver.one(label, lemmas=False)
            if cid is not None:
                resolved[key] = cid
                break
            matches = onto.lookup(label)
            why.append(f"'{label}' " + ("not found" if not matches else
                                        "is ambiguous: " + ", ".join(m.id for m in matches)))
        else:
            problems[key] = "; ".join(why)
    return resolved, problems


def closure(onto: Ontology, ids: Sequence[str]) -> list[str]:
    """``ids`` and all their ancestors, sorted (:func:`uts.ontology.graph.closure`)."""
    return sorted(graph_closure(onto.graph, ids))


def most_specific(onto: Ontology, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` that have no descendant among ``ids`` (the leaf-only view)."""
    s = set(ids)
    return sorted(c for c in s if not (onto.descendants(c) & s))


# -- corpus -----------------------------------------------------------------------------------------
@dataclass
class SynthConfig:
    n: int = 200
    seed: int = 0
    sample_rate: int = 16000
    seconds: float = 2.0
    label_mode: str = "complete"
    drop_rate: float = 0.3
    wrong_rate: float = 0.1
    exclude_domains: tuple[str, ...] = ()
    max_sources: int = 3
    speech_backend: str = "auto"  # auto | espeak | numpy
    skip_missing_labels: bool = False

    def check(self) -> None:
        if self.n < 1:
            raise SynthError("n must be at least 1")
        if self.seconds <= 0 or self.sample_rate < 4000:
            raise SynthError("seconds must be positive and sample_rate at least 4000")
        if self.label_mode not in LABEL_MODES:
            raise SynthError(f"label mode must be one of {', '.join(LABEL_MODES)}, not {self.label_mode!r}")
        for rate, name in ((self.drop_rate, "drop_rate"), (self.wrong_rate, "wrong_rate")):
            if not 0 <= rate <= 1:
                raise SynthError(f"{name} must lie in [0, 1]")
        bad = [d for d in self.exclude_domains if d not in DOMAINS]
        if bad:
            raise SynthError(f"unknown domain(s) {', '.join(bad)}; choose from {', '.join(DOMAINS)}")
        if set(DOMAINS) <= set(self.exclude_domains):
            raise SynthError("every domain is excluded; nothing left to generate")
        if not 1 <= self.max_sources <= 3:
            raise SynthError("max_sources must be 1, 2 or 3")
        if self.speech_backend not in ("auto", "espeak", "numpy"):
            raise SynthError("speech backend must be auto, espeak or numpy")


@dataclass
class SynthResult:
    out_dir: Path
    manifest: Path
    clips: int
    speech_backend: str  # espeak, numpy, or none (speech excluded)
    speech_languages: list[str]  # languages espeak-ng spoke (empty for numpy speech)
    speech_failures: dict[str, str]  # languages espeak-ng failed on, and why
    labels: dict[str, str]  # LABEL_TABLE key -> UTS id used
    skipped_keys: dict[str, str]  # keys left out with skip_missing_labels, and why


def _apply_label_mode(rng: np.random.Generator, onto: Ontology, truth: list[str], cfg: SynthConfig,
                      pool: list[str]) -> list[str]:
    if cfg.label_mode == "complete":
        return list(truth)
    if cfg.label_mode == "leaf-only":
        return most_specific(onto, truth)
    if cfg.label_mode == "dropped":
        return [c for c in truth if rng.random() >= cfg.drop_rate]
    out: list[str] = []
    for c in truth:  # wrong: replace with a concept of another generator, absent from the truth
        choices = [p for p in pool if p not in truth and p not in out]
        if choices and rng.random() < cfg.wrong_rate:
            out.append(choices[int(rng.integers(0, len(choices)))])
        elif c not in out:
            out.append(c)
    return sorted(out)


def _caption(template_parts: list[str], names: dict[str, str]) -> str:
    phrases = [t.format(**names) for t in template_parts]
    text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return text[0].upper() + text[1:] + "."


def synthesize(out_dir: str | Path, onto: Ontology, config: SynthConfig | None = None,
               progress: bool = False, overwrite: bool = False) -> SynthResult:
    """Write ``config.n`` clips to ``out_dir/audio/*.wav`` and ``out_dir/manifest.jsonl``
    (flat schema plus ``labels_complete``, ``sources``, ``domains``) and ``out_dir/synth.json``
    (settings and the label table as resolved). Deterministic given the config.

    Raises :class:`SynthError` when the options are invalid, the output already holds a
    manifest (unless ``overwrite``) or table labels resolve to no concept (unless
    ``skip_missing_labels``: generators whose labels are missing are then left out).
    """
    cfg = config or SynthConfig()
    cfg.check()
    out_dir = Path(out_dir)
    manifest_path = out_dir / "manifest.jsonl"
    if manifest_path.exists() and not overwrite:
        raise SynthError(f"{manifest_path} exists; choose another --out or pass --overwrite")
    domains = [d for d in DOMAINS if d not in cfg.exclude_domains]
    speech_backend = cfg.speech_backend
    if speech_backend == "auto":
        speech_backend = "espeak" if espeak_available() else "numpy"
    resolved, problems = resolve_labels(onto, _keys_needed(domains, speech_backend))
    if problems and not cfg.skip_missing_labels:
        shown = "; ".join(f"{k}: {why}" for k, why in list(problems.items())[:3])
        raise SynthError(f"{len(problems)} synth label(s) resolve to no single concept in the ontology "
                         f"({shown}{'; ...' if len(problems) > 3 else ''}); pass --skip-missing-labels to "
                         "leave those sources out, or align LABEL_TABLE in uts/synth/corpus.py")
    # Sources whose labels are all resolved (with skip_missing_labels some may be left out).
    languages = [lang for lang in LANGUAGES if lang in resolved]
    generators = {d: {name: fn for name, fn in GENERATORS[d].items() if _generator_ok(name, resolved, speech_backend, languages)}
                  for d in domains}
    generators = {d: g for d, g in generators.items() if g}
    if not generators:
        raise SynthError("no generator has all its labels in the ontology; nothing to generate")

    ctx: dict = {"drum_parts": tuple(p for p in ("kick", "snare", "hihat") if p in resolved)}
    speech_languages: list[str] = []
    speech_failures: dict[str, str] = {}
    if "speech" in generators:
        pool = SpeechPool.build(cfg.sample_rate, speech_backend, languages, cfg.seed)
        speech_failures = dict(pool.failed)
        if pool.backend == "espeak" and not pool.languages:
            if cfg.speech_backend == "espeak":
                raise SynthError("espeak-ng could not speak any language: " +
                                 "; ".join(f"{k}: {v}" for k, v in pool.failed.items()))
            pool = SpeechPool.build(cfg.sample_rate, "numpy")  # auto: fall back to babble
        speech_backend, speech_languages = pool.backend, pool.languages
        ctx["speech_pool"] = pool
    else:
        speech_backend = "none"
    names = {k: onto.get(cid).label for k, cid in resolved.items()}
    names.update({f"a_{k}": ("an " if v[:1].lower() in "aeiou" else "a ") + v for k, v in list(names.items())})
    wrong_pool = sorted(set(resolved.values()))
    n = int(round(cfg.seconds * cfg.sample_rate))
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for stale in audio_dir.glob("synth-*.wav"):  # from an overwritten corpus; ours only
        stale.unlink()

    rows = []
    indices = range(cfg.n)
    if progress:
        indices = track(indices, description=f"synthesising {cfg.n} clips")
    for i in indices:
        rng = np.random.default_rng([cfg.seed, i])
        weights = np.array(MIXTURE_WEIGHTS[: cfg.max_sources])
        k = 1 + int(rng.choice(len(weights), p=weights / weights.sum()))
        picked: list[tuple[str, str]] = []
        for _ in range(k):
            options = [(d, g) for d in generators for g in generators[d] if (d, g) not in picked]
            if not options:
                break
            d = str(rng.choice(sorted({o[0] for o in options})))  # domain first: balanced coverage
            picked.append((d, str(rng.choice(sorted(g for dd, g in options if dd == d)))))
        mix = np.zeros(n)
        keys: list[str] = []
        parts: list[str] = []
        for d, g in picked:
            sig, source_keys, caption = generators[d][g](rng, n, cfg.sample_rate, ctx)
            mix += _rms_normalise(np.asarray(sig, dtype=np.float64)[:n]) * 10 ** (rng.uniform(-6, 0) / 20)
            keys.extend(key for key in source_keys if key not in keys)
            parts.append(caption)
        peak = float(np.max(np.abs(mix))) or 1.0
        mix = mix * (0.9 / peak) * 10 ** (rng.uniform(-6, 0) / 20)
        cid = f"synth-{i:06d}"
        rel = f"audio/{cid}.wav"
        sf.write(out_dir / rel, mix.astype(np.float32), cfg.sample_rate, subtype="PCM_16")
        truth = closure(onto, [resolved[key] for key in keys])
        given = _apply_label_mode(rng, onto, truth, cfg, wrong_pool)
        rows.append({
            "id": cid, "audio_path": rel, "start": 0.0, "duration": n / cfg.sample_rate,
            # the given labels as ids, and as the text tags a dataset would publish
            "labels": given, "source_labels": [onto.get(c).label for c in given],
            "labels_complete": truth, "caption": _caption(parts, names),
            "sources": [g for _, g in picked], "domains": sorted({d for d, _ in picked}),
        })
    schema = {"id": pl.Utf8, "audio_path": pl.Utf8, "start": pl.Float64, "duration": pl.Float64,
              "labels": pl.List(pl.Utf8), "source_labels": pl.List(pl.Utf8),
              "labels_complete": pl.List(pl.Utf8), "caption": pl.Utf8,
              "sources": pl.List(pl.Utf8), "domains": pl.List(pl.Utf8)}
    write_manifest(pl.DataFrame(rows, schema=schema), manifest_path)
    skipped = {k: v for k, v in problems.items()}
    meta = {"config": {**cfg.__dict__, "exclude_domains": list(cfg.exclude_domains)},
            "speech_backend": speech_backend, "speech_languages": speech_languages,
            "speech_failures": speech_failures, "ontology_version": onto.meta.version,
            "labels": {k: {"id": v, "label": names[k]} for k, v in sorted(resolved.items())},
            "skipped_label_keys": skipped,
            "label_table_sha1": hashlib.sha1(json.dumps(LABEL_TABLE, sort_keys=True).encode()).hexdigest()}
    (out_dir / "synth.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return SynthResult(out_dir, manifest_path, cfg.n, speech_backend, speech_languages, speech_failures,
                       resolved, skipped)


def _generator_ok(name: str, resolved: dict[str, str], speech_backend: str, languages: list[str]) -> bool:
    needs = {"speech": ["speech", "male", "female"], "drums": ["music"],
             "dog": ["dog", "bark"]}.get(name, ["music", name] if name in GENERATORS["music"] else [name])
    if name == "speech" and speech_backend == "espeak" and not languages:
        return False
    if name == "drums" and not any(p in resolved for p in ("kick", "snare", "hihat")):
        return False  # a pattern plays only the drums the ontology can name
    return all(k in resolved for k in needs)
