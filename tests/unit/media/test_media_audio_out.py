"""write_audio(): Broadcast WAV bytes, FLAC, loudness, and atomic writes."""

from __future__ import annotations

import os
import struct
import warnings
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import pytest
import scipy.io.wavfile

from plugin_server.media import bwf
from plugin_server.media.audio_out import write_audio
from plugin_server.media.errors import AudioWriteError
from plugin_server.media.loudness import true_peak_dbtp

RATE = 48_000
WHEN = datetime(2024, 5, 17, 9, 30, 15)


def tone(seconds: float = 2.0, amplitude: float = 0.5, hz: float = 997.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    """scipy's reader, which rightly skips the bext chunk it does not know."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)
        return scipy.io.wavfile.read(path)


def riff_chunks(path: Path) -> list[tuple[bytes, bytes]]:
    """(id, payload) of every chunk, checking the RIFF size and word alignment on the way."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    chunks, offset = [], 12
    while offset < len(data):
        chunk_id, size = (
            data[offset : offset + 4],
            struct.unpack("<I", data[offset + 4 : offset + 8])[0],
        )
        chunks.append((chunk_id, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size + size % 2
    assert offset == len(data)
    return chunks


def parse_bext(payload: bytes) -> dict[str, object]:
    fields = struct.unpack("<256s32s32s10s8sIIH64s5h180s", payload[:602])
    text = [value.rstrip(b"\0").decode("ascii") for value in fields[:5]]
    return {
        "description": text[0],
        "originator": text[1],
        "originator_reference": text[2],
        "date": text[3],
        "time": text[4],
        "time_reference": fields[5] | fields[6] << 32,
        "version": fields[7],
        "loudness_value": fields[9],
        "loudness_range": fields[10],
        "max_true_peak": fields[11],
        "coding_history": payload[602:].decode("ascii"),
    }


def test_broadcast_wav_has_bext_then_fmt_then_data(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    record_start = (10 * 3600 + 1) * RATE + 123  # 10:00:01 plus 123 samples
    report = write_audio(
        path,
        tone(),
        time_reference_samples=record_start,
        description="door slam, V1 clip 3",
        originator_reference="job-42",
        origination=WHEN,
    )
    chunks = riff_chunks(path)
    assert [chunk_id for chunk_id, _ in chunks] == [b"bext", b"fmt ", b"data"]
    bext = parse_bext(chunks[0][1])
    assert bext["time_reference"] == record_start
    assert (bext["description"], bext["originator"], bext["originator_reference"]) == (
        "door slam, V1 clip 3",
        "foley-backend",
        "job-42",
    )
    assert (bext["date"], bext["time"], bext["version"]) == ("2024-05-17", "09:30:15", 2)
    assert bext["coding_history"] == "A=PCM,F=48000,W=24,M=mono,T=foley-backend\r\n"
    assert report.loudness_lufs is not None and report.true_peak_dbtp is not None
    assert bext["loudness_value"] == round(report.loudness_lufs * 100)
    assert bext["max_true_peak"] == round(report.true_peak_dbtp * 100)
    assert bext["loudness_range"] == 0x7FFF  # not measured
    assert report.num_samples == 96_000 and report.duration_s == 2.0


def test_time_reference_beyond_32_bits_uses_the_high_word(tmp_path: Path) -> None:
    path = tmp_path / "late.wav"
    write_audio(path, tone(0.1), time_reference_samples=2**32 + 5, origination=WHEN)
    payload = riff_chunks(path)[0][1]
    assert struct.unpack("<II", payload[338:346]) == (5, 1)


def test_pcm24_is_wave_format_extensible_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "pcm24.wav"
    samples = tone(0.5)
    write_audio(path, samples, origination=WHEN)
    fmt = dict(riff_chunks(path))[b"fmt "]
    tag, channels, rate, byte_rate, align, bits, extra, valid, mask = struct.unpack(
        "<HHIIHHHHI", fmt[:24]
    )
    assert (tag, channels, rate, byte_rate, align, bits) == (0xFFFE, 1, RATE, RATE * 3, 3, 24)
    assert (extra, valid, mask) == (22, 24, 0x4)
    assert fmt[24:40] == bytes.fromhex("0100000000001000800000aa00389b71")
    read_rate, read = read_wav(path)
    assert read_rate == RATE and read.shape == (24_000,)
    assert np.max(np.abs(read / 2**31 - samples)) < 2**-22


def test_float32_is_ieee_float_with_a_fact_chunk(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    samples = tone(0.5) * 1.5  # float keeps values beyond full scale
    report = write_audio(path, samples, sample_format="float32", origination=WHEN)
    chunks = dict(riff_chunks(path))
    assert list(chunks) == [b"bext", b"fmt ", b"fact", b"data"]
    assert struct.unpack("<HHIIHHH", chunks[b"fmt "]) == (3, 1, RATE, RATE * 4, 4, 32, 0)
    assert struct.unpack("<I", chunks[b"fact"]) == (24_000,)
    assert np.array_equal(np.frombuffer(chunks[b"data"], "<f4"), samples)
    assert report.clipped_samples == 0


def test_dual_mono_writes_the_same_signal_on_both_channels(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    mono = write_audio(tmp_path / "mono.wav", tone(), origination=WHEN)
    stereo = write_audio(path, tone(), channels=2, origination=WHEN)
    _, read = read_wav(path)
    assert read.shape == (96_000, 2) and np.array_equal(read[:, 0], read[:, 1])
    fmt = dict(riff_chunks(path))[b"fmt "]
    assert struct.unpack("<HH", fmt[:4]) == (0xFFFE, 2) and struct.unpack("<I", fmt[20:24]) == (3,)
    # Two identical channels measure 3 dB louder than one (BS.1770 sums channel power).
    assert stereo.loudness_lufs - mono.loudness_lufs == pytest.approx(3.01, abs=0.01)


def test_odd_sized_data_is_padded_to_a_word(tmp_path: Path) -> None:
    path = tmp_path / "odd.wav"
    write_audio(path, tone(0.5)[:4801], origination=WHEN)
    data = dict(riff_chunks(path))[b"data"]
    assert len(data) == 4801 * 3
    assert path.stat().st_size % 2 == 0


def test_other_decoders_read_our_files(tmp_path: Path) -> None:
    for name, options in [("a.wav", {}), ("b.wav", {"sample_format": "float32", "channels": 2})]:
        path = tmp_path / name
        write_audio(path, tone(0.25), origination=WHEN, **options)
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            frames = [frame.to_ndarray() for frame in container.decode(stream)]
            assert stream.rate == RATE and stream.channels == options.get("channels", 1)
            assert sum(frame.shape[-1] for frame in frames) // stream.channels in (12_000,)


def test_flac_is_lossless_24_bit_with_time_reference_tag(tmp_path: Path) -> None:
    path = tmp_path / "clip.flac"
    samples = tone(0.5)
    report = write_audio(
        path, samples, container="flac", time_reference_samples=1234, description="rain"
    )
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "flac" and stream.rate == RATE
        assert container.metadata["TIME_REFERENCE"] == "1234"
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    want = np.clip(np.round(samples.astype(np.float64) * 8_388_607), -8_388_608, 8_388_607)
    assert np.array_equal(decoded >> 8, want.astype(np.int32))
    assert report.container == "flac" and report.num_samples == 24_000


def test_loudness_normalisation_reaches_the_target(tmp_path: Path) -> None:
    report = write_audio(tmp_path / "n.wav", tone(3.0, 0.05), loudness_target_lufs=-23.0)
    assert report.loudness_lufs == pytest.approx(-23.0, abs=0.05)
    assert report.gain_db > 0
    _, read = read_wav(tmp_path / "n.wav")
    peak = np.max(np.abs(read / 2**31))
    assert 20 * np.log10(peak) == pytest.approx(report.peak_dbfs, abs=0.01)


def test_normalisation_stops_at_minus_one_dbtp(tmp_path: Path) -> None:
    # Sparse clicks: quiet on average, so reaching -10 LUFS would push peaks far above 0 dBFS.
    clicks = np.zeros(3 * RATE, np.float32)
    clicks[::4800] = 0.5
    report = write_audio(
        tmp_path / "clicks.wav", clicks, loudness_target_lufs=-10.0, sample_format="float32"
    )
    assert report.true_peak_dbtp == pytest.approx(-1.0, abs=0.01)
    assert report.loudness_lufs < -10.0
    written = np.frombuffer(dict(riff_chunks(tmp_path / "clicks.wav"))[b"data"], "<f4")
    assert true_peak_dbtp(written) == pytest.approx(-1.0, abs=0.01)


def test_true_peak_sees_inter_sample_peaks() -> None:
    # A sine at a quarter of the rate, sampled 45 degrees off its crests: samples peak at
    # 0.707 but the waveform reaches 1.0 between them.
    n = np.arange(RATE)
    samples = np.sin(2 * np.pi * n / 4 + np.pi / 4)
    assert np.max(np.abs(samples)) == pytest.approx(0.7071, abs=1e-4)
    assert true_peak_dbtp(samples) == pytest.approx(0.0, abs=0.2)


def test_short_or_silent_clips_have_no_loudness(tmp_path: Path) -> None:
    short = write_audio(tmp_path / "short.wav", tone(0.2))
    silent = write_audio(
        tmp_path / "silent.wav", np.zeros(RATE, np.float32), loudness_target_lufs=-23.0
    )
    assert short.loudness_lufs is None and short.true_peak_dbtp is not None
    assert silent.loudness_lufs is None and silent.true_peak_dbtp is None
    assert silent.gain_db == 0.0 and silent.peak_dbfs is None


def test_pcm24_clips_and_counts_samples_beyond_full_scale(tmp_path: Path) -> None:
    samples = tone(0.5, amplitude=1.2)
    report = write_audio(tmp_path / "loud.wav", samples)
    assert report.clipped_samples == int(np.count_nonzero(np.abs(samples) > 1.0)) > 0
    _, read = read_wav(tmp_path / "loud.wav")
    assert read.max() == 8_388_607 << 8 and read.min() == -8_388_608 << 8


@pytest.mark.parametrize(
    ("samples", "options", "message"),
    [
        (np.array([0.0, np.nan, 0.1], np.float32), {}, "NaN or infinite"),
        (np.zeros((10, 3), np.float32), {}, "must be mono"),
        (np.zeros(10, np.int16), {}, "must be float"),
        (np.zeros(10, np.float32), {"container": "flac", "sample_format": "float32"}, "FLAC"),
        (np.zeros(10, np.float32), {"channels": 6}, "channels"),
        (np.zeros(10, np.float32), {"time_reference_samples": -1}, "time_reference"),
        (np.zeros(10, np.float32), {"loudness_target_lufs": 5.0}, "loudness_target"),
        (np.zeros(10, np.float32), {"sample_rate": 0}, "sample_rate"),
    ],
)
def test_bad_arguments_write_nothing(
    tmp_path: Path, samples: np.ndarray, options: dict[str, object], message: str
) -> None:
    path = tmp_path / "bad.wav"
    with pytest.raises(AudioWriteError, match=message) as caught:
        write_audio(path, samples, **options)  # type: ignore[arg-type]
    assert caught.value.path == path and str(path) in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clip.wav"
    write_audio(path, tone(0.5), origination=WHEN)
    before = path.read_bytes()

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(AudioWriteError, match="No space left"):
        write_audio(path, tone(1.0), origination=WHEN)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.wav"]


def test_missing_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "out" / "reel 1" / "clip.wav"
    write_audio(path, tone(0.1))
    assert path.is_file() and oct(path.stat().st_mode & 0o777) == "0o644"


def test_riff_refuses_files_beyond_4_gib() -> None:
    assert len(bwf.riff_header(b"", 2**32 - 100)) == 20
    with pytest.raises(OverflowError, match="4 GiB"):
        bwf.riff_header(b"", 2**32)
