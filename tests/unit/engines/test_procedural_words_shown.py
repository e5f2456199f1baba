"""The words a prompt used and ignored reach the user: `foley-server generate`'s and
`foley-client generate`'s progress lines, and `foley-client plan --json` (through a real
server), for the demo edit and its generated media."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin_server import cli, client_cli
from plugin_server.demo.__main__ import DEMO_TIMELINE, write_demo_media
from plugin_server.server.app import FoleyServer
from plugin_server.server.config import ServerConfig

pytestmark = pytest.mark.slow  # a real server, real encodes and decodes

PROMPT = "a dog barking qwerty"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo_media")
    write_demo_media(folder)
    return folder


def test_foley_server_generate_shows_used_and_ignored_words(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([
        "generate", str(DEMO_TIMELINE), "-o", str(tmp_path / "demo_foley.otio"),
        "--media-root", str(media), "--prompt", PROMPT,
    ])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    # The clip "Walk close-up" prompts "boots on a wooden floor"; the request adds PROMPT.
    assert "words used: dog bark, boots, wooden floor; ignored: qwerty" in err
    assert err.count("ignored: qwerty") == 4  # every clip's finished line


def test_foley_client_generate_and_plan_show_the_words(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FoleyServer(
        ServerConfig(media_roots=(media,), work_dir=tmp_path / "work", port=0, device="cpu")
    )
    server.start()
    try:
        address = ["--server", server.address]
        code = client_cli.main(
            ["generate", str(DEMO_TIMELINE), "-o", str(tmp_path / "o.otio"), "--prompt", PROMPT,
             *address]
        )  # fmt: skip
        assert code == 0
        assert capsys.readouterr().err.count("ignored: qwerty") == 4
        assert (
            client_cli.main(["plan", str(DEMO_TIMELINE), "--json", "--prompt", PROMPT, *address])
            == 0
        )
        notes = json.loads(capsys.readouterr().out)["notes"]
    finally:
        server.stop(grace_s=5)
    words = [note for note in notes if note.startswith("prompt ")]
    assert len(words) == 4  # four clips, each its own prompt plus PROMPT
    assert all("qwerty" in note.split("; ignored: ")[1] for note in words), words
    assert any("words used: dog bark, boots, wooden floor" in note for note in words), words
