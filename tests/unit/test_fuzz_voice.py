"""Fuzzing V.253 voice data (issue 9, point 9): DLE-shielded streams and every sample format,
cut at any read boundary, give the same samples and the same events as read whole; any
AT+VSM=? answer gives a list of formats, never an error. (The driver's data state on a real
pty: tests/line/test_fuzz_ports.py.)"""

import logging

import pytest
from hypothesis import given, strategies as st

from lawline.line import voice
from lawline.line.at import MAX_LINE
from lawline.line.v253audio import V253Audio

FORMATS = [voice.Format(4, "G.711U", 8, "ulaw"), voice.Format(5, "G.711A", 8, "alaw"),
           voice.Format(1, "16-BIT LINEAR", 16, "s16"), voice.Format(2, "8-BIT UNSIGNED", 8,
                                                                      "u8"),
           voice.Format(3, "8-BIT SIGNED", 8, "s8")]
quiet = logging.getLogger("lawline.fuzz")

# DLE codes a modem sends in a data state: digits, hang-up cues, handset, silence, framing
codes = st.sampled_from(list(b"0123456789*#ABCDbdlKihHsqou/~") + [voice.DLE, voice.SUB]) | \
    st.integers(0, 255).filter(lambda c: c != voice.ETX)


@st.composite
def data_stream(draw, codes=codes):
    """Shielded samples with DLE events between them, and (maybe) DLE ETX and what follows."""
    parts = draw(st.lists(st.one_of(st.binary(max_size=200).map(voice.shield),
                                    codes.map(lambda c: bytes([voice.DLE, c]))), max_size=10))
    end = draw(st.sampled_from([b"", b"\x10\x03", b"\x10\x03\r\nVCON\r\n"]))
    return b"".join(parts) + end


def chunked(data, positions):
    out, start = [], 0
    for p in sorted(positions) + [len(data)]:
        out.append(data[start:p])
        start = p
    return [c for c in out if c]


def decode(chunks):
    decoder = voice.DleDecoder()
    data, events, offset, end = b"", [], 0, None
    for chunk in chunks:
        d, e, stop = decoder.feed(chunk)
        data += d
        events += e
        if stop is not None:
            end = offset + stop
            break
        offset += len(chunk)
    return data, events, end


@given(st.data())
def test_dle_decoder_is_the_same_at_any_read_boundary(data):
    raw = data.draw(data_stream(), label="stream")
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=10), label="cuts")
    assert decode(chunked(raw, cuts)) == decode([raw])


@given(st.binary(max_size=500))
def test_shielded_samples_come_back_exactly(samples):
    wire = voice.shield(samples) + b"\x10\x03OK"
    assert decode([wire]) == (samples, [], len(wire) - 2)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.codec)
@given(samples=st.binary(max_size=1000), cuts=st.lists(st.integers(0, 1000), max_size=10))
def test_samples_convert_the_same_at_any_read_boundary(fmt, samples, cuts):
    def heard(chunks):
        audio = V253Audio("fuzz", quiet)
        audio.format = fmt
        out = []
        audio.on_frame = out.append
        for chunk in chunks:
            audio.from_modem(chunk)
        return b"".join(out)
    whole = heard([samples])
    assert heard(chunked(samples, [c for c in cuts if c <= len(samples)])) == whole
    assert len(whole) == 2 * (len(samples) // fmt.bytes_per_sample)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.codec)
@given(pcm=st.binary(max_size=640))
def test_any_pcm_converts_to_modem_samples(fmt, pcm):
    out = fmt.from_s16(pcm)
    assert len(out) == (len(pcm) // 2) * fmt.bytes_per_sample
    assert len(fmt.to_s16(out)) == 2 * (len(pcm) // 2)


vsm_line = st.one_of(
    st.text(max_size=MAX_LINE),
    st.builds(lambda n, name, bits, rest: f'{n},"{name}",{bits}{rest}',
              st.integers(0, 10 ** 6), st.text(max_size=20).filter(lambda t: '"' not in t),
              st.integers(0, 10 ** 6),
              st.sampled_from(["", ",0,(8000)", ",(7200,8000,11025)", ",0,(11025)"]) |
              st.text(max_size=30)))


@given(st.lists(vsm_line, max_size=8))
def test_any_vsm_answer_gives_formats(lines):
    formats = voice.parse_vsm(lines)
    assert all(f.codec in voice.PREFERENCE for f in formats)
    chosen = voice.choose_format(formats)
    assert chosen is None or chosen in formats
