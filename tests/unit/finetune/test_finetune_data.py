"""Training data: pairing folders and timelines, and every bad-input case refused before any
model is loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from finetune_data import (
    clicks,
    shared_weights,
    studio_folder,
    timeline_with_foley,
    write_video,
    write_wav,
)

from plugin_server.cli import main
from plugin_server.finetune.audio_read import read_audio
from plugin_server.finetune.discovery import discover
from plugin_server.finetune.errors import DatasetError
from plugin_server.finetune.validation import validate


def test_a_folder_pairs_each_video_with_the_audio_of_its_name(tmp_path: Path) -> None:
    data = studio_folder(tmp_path / "data", count=3, seconds=1.6)

    dataset = validate(discover([data]), batch_size=2)

    assert [pair.origin for pair in dataset.pairs] == [
        "shot_0.mp4 + shot_0.wav",
        "shot_1.mp4 + shot_1.wav",
        "shot_2.mp4 + shot_2.wav",
    ]
    assert dataset.pairs[0].prompt == "footsteps on gravel"  # from shot_0.txt
    assert dataset.pairs[1].prompt == ""
    for pair in dataset.pairs:
        assert pair.duration_s == pytest.approx(1.6, abs=1e-6)
        assert pair.audio.start_s == 0 and pair.audio.duration_s == pytest.approx(1.6, abs=1e-6)


def test_unpaired_and_ambiguous_files_are_all_listed_together(tmp_path: Path) -> None:
    data = studio_folder(tmp_path / "data", count=1)
    write_video(data / "lonely.mp4", 1.0)
    write_wav(data / "orphan.wav", clicks(1.0))
    write_wav(data / "shot_0.flac", clicks(1.0))  # a second audio file for shot_0

    with pytest.raises(DatasetError) as caught:
        validate(discover([data]), batch_size=1)

    problems = "\n".join(caught.value.problems)
    assert "unpaired video" in problems and "lonely.mp4" in problems
    assert "unpaired audio" in problems and "orphan.wav" in problems
    assert "several audio files share this name (shot_0.flac, shot_0.wav)" in problems
    assert len(caught.value.problems) == 4  # the three above and "no usable pair"
    assert "nothing was trained" in str(caught.value)


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    data = studio_folder(tmp_path / "data", count=2)
    (data / "shot_0.mp4").write_bytes(b"not a video at all")
    (data / "shot_1.wav").write_bytes(b"RIFF-broken")

    with pytest.raises(DatasetError) as caught:
        validate(discover([data]), batch_size=1)

    problems = caught.value.problems
    assert any(p.startswith("unreadable video") and "shot_0.mp4" in p for p in problems)
    assert any(p.startswith("unreadable audio") and "shot_1.wav" in p for p in problems)


def test_audio_shorter_than_its_picture_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_video(data / "walk.mp4", 2.0)
    write_wav(data / "walk.wav", clicks(1.5))

    with pytest.raises(
        DatasetError, match=r"audio shorter than its picture.*1\.50 s of audio for "
    ):
        validate(discover([data]), batch_size=1)


def test_audio_a_hair_short_is_accepted_and_the_pair_trimmed_to_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_video(data / "walk.mp4", 2.0)
    write_wav(data / "walk.wav", clicks(1.98))

    dataset = validate(discover([data]), batch_size=1)

    assert dataset.pairs[0].duration_s == pytest.approx(1.98, abs=1e-6)
    assert dataset.pairs[0].picture.duration_s == pytest.approx(1.98, abs=1e-6)


def test_other_sample_rates_are_resampled_to_48k_and_said(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_video(data / "door.mp4", 1.2)
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(round(1.5 * 44_100)) / 44_100)
    write_wav(data / "door.wav", tone, rate=44_100, channels=2)

    dataset = validate(discover([data]), batch_size=1)
    excerpt = read_audio(dataset.pairs[0].audio.path, 0.25, 0.75)

    assert any("44100 Hz are resampled to 48000 Hz: door.wav" in note for note in dataset.notes)
    assert excerpt.resampled_from == 44_100
    assert excerpt.samples.shape == (36_000,)
    expected = 0.5 * np.sin(2 * np.pi * 440 * (0.25 + np.arange(36_000) / 48_000))
    assert np.max(np.abs(excerpt.samples - expected)) < 2e-3


def test_a_dataset_smaller_than_the_batch_is_refused(tmp_path: Path) -> None:
    data = studio_folder(tmp_path / "data", count=2)

    with pytest.raises(DatasetError, match=r"2 usable pair.*fewer than --batch-size 4"):
        validate(discover([data]), batch_size=4)


def test_skipping_bad_pairs_keeps_the_good_ones_and_lists_the_rest(tmp_path: Path) -> None:
    data = studio_folder(tmp_path / "data", count=2)
    write_video(data / "lonely.mp4", 1.0)

    dataset = validate(discover([data]), batch_size=2, skip_bad_pairs=True)

    assert len(dataset.pairs) == 2
    assert any("lonely.mp4" in note for note in dataset.notes)


def test_a_timeline_pairs_each_picture_clip_with_the_foley_under_it(tmp_path: Path) -> None:
    timeline = timeline_with_foley(tmp_path, picture_frames=(40, 50))

    dataset = validate(discover([timeline]), batch_size=2)

    first, second = dataset.pairs
    assert "V1 'shot 0' at 01:00:00:00 + A2 'Foley' 'steps 0'" in first.origin
    # Picture: media frames from 5 at 25 fps; Foley: one take, the second clip 40 frames in.
    assert first.picture.start_s == pytest.approx(0.2)
    assert first.picture.record_duration_s == pytest.approx(1.6)
    assert (first.audio.start_s, first.audio.duration_s) == pytest.approx((0.0, 1.6))
    assert (second.audio.start_s, second.audio.duration_s) == pytest.approx((1.6, 2.0))
    assert first.audio.path == second.audio.path == tmp_path / "foley_take.wav"


def test_a_timeline_foley_clip_covering_part_of_its_picture_is_refused(tmp_path: Path) -> None:
    timeline = timeline_with_foley(tmp_path, picture_frames=(40, 50), foley_cover=(40, 30))

    with pytest.raises(DatasetError) as caught:
        validate(discover([timeline]), batch_size=1)

    (problem,) = caught.value.problems
    assert "V1 clip 'shot 1' at 01:00:01:15" in problem
    assert "audio shorter than its picture: the clip lasts 2.00 s" in problem
    assert "covers only 1.20 s" in problem


def test_a_picture_clip_without_foley_is_unpaired(tmp_path: Path) -> None:
    timeline = timeline_with_foley(tmp_path, picture_frames=(40,))

    found = discover([timeline], audio_tracks=["Dialogue"])  # the empty track

    assert found.pairs == ()
    assert "unpaired picture" in found.problems[0]
    assert "A1 'Dialogue'" in found.problems[0]


def test_an_unknown_audio_track_is_named_with_the_ones_there_are(tmp_path: Path) -> None:
    timeline = timeline_with_foley(tmp_path, picture_frames=(40,))

    found = discover([timeline], audio_tracks=["A7"])

    assert found.problems == (
        f"timeline {timeline}: audio track(s) A7 not found "
        "(audio tracks: A1 'Dialogue', A2 'Foley')",
    )


def test_the_command_refuses_bad_data_before_loading_any_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = studio_folder(tmp_path / "data", count=2)
    write_wav(data / "orphan.wav", clicks(1.0))
    shutil.copy(data / "shot_0.mp4", data / "shot_9.mp4")
    out = tmp_path / "lora"

    code = main(
        [
            *("finetune", str(data), "--weights", str(shared_weights().root), "--out", str(out)),
            *("--batch-size", "3", "--steps", "5", "--device", "cpu"),
        ]
    )

    error = capsys.readouterr().err
    assert code == 2
    assert "unpaired audio" in error and "orphan.wav" in error
    assert "unpaired video" in error and "shot_9.mp4" in error
    assert "fewer than --batch-size 3" in error
    assert "extracting" not in error  # no model was loaded, nothing extracted
    assert not (out / "adapter_model.safetensors").exists()
    assert not (out / "checkpoints").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--rank", "0", "--rank must be greater than 0"),
        ("--lr", "-1", "--lr must be greater than 0"),
        ("--condition-dropout", "1.5", "--condition-dropout must be in [0, 1)"),
    ],
)
def test_the_command_refuses_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    code = main(
        [
            *("finetune", str(tmp_path), "--weights", str(tmp_path)),
            *("--out", str(tmp_path / "o"), option, value),
        ]
    )

    assert code == 2
    assert message in capsys.readouterr().err
