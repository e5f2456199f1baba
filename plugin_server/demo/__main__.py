"""`python -m plugin_server.demo` (`make run`): the whole product on this machine, in seconds.

Generates three short synthetic videos (a disc hitting walls, a walking figure, a bouncing ball),
starts the gRPC server on a free loopback port with the procedural engine, sends the bundled demo
timeline (`demo_timeline.otio`, which names its media on an editor's drive) through the real
client, and writes the result timeline and its Broadcast WAVs under ./demo_out.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from plugin_server.demo.media import BouncingBall, BouncingDisc, Scene, WalkingFigure

DEMO_TIMELINE = Path(__file__).resolve().parent / "demo_timeline.otio"
FPS = Fraction(24)

# The media the bundled timeline names (by base name; the timeline's folders are an editor's).
DEMO_MEDIA: dict[str, Callable[[], Scene]] = {
    "disc_hits.mp4": lambda: BouncingDisc(fps=FPS, num_frames=120, impact_frames=(20, 44, 68, 92)),
    "walking.mp4": lambda: WalkingFigure(
        fps=FPS, num_frames=168, step_frames=(14, 30, 46, 62, 78, 94, 110, 126, 142, 158)
    ),
    "bounce.mp4": lambda: BouncingBall(fps=FPS, num_frames=96, bounce_frames=(30, 54, 72, 84, 90)),
}


def write_demo_media(folder: Path) -> list[Path]:
    """Write every video of DEMO_MEDIA into `folder` (small: 320x180 H.264); returns paths."""
    from plugin_server.demo.media import write_scene_video

    folder.mkdir(parents=True, exist_ok=True)
    return [write_scene_video(folder / name, scene()).path for name, scene in DEMO_MEDIA.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugin_server.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    parser.add_argument("--prompt", default="", help="a prompt added to every clip's own")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    from plugin_server.client import FoleyClient, GenerateOptions
    from plugin_server.client_cli import progress_feed
    from plugin_server.progress import ProgressDisplay
    from plugin_server.server.app import FoleyServer
    from plugin_server.server.config import ServerConfig

    out = args.out.resolve()
    media = out / "media"
    print(f"writing demo media to {media}")
    write_demo_media(media)
    with tempfile.TemporaryDirectory(prefix="foley-demo-") as work:
        server = FoleyServer(
            ServerConfig(
                media_roots=(media,),
                work_dir=Path(work),
                port=0,
                engine="procedural",
                device="cpu",
                workers=2,
            )
        )
        server.start()
        print(f"server listening on {server.address} (procedural engine)")
        display = ProgressDisplay()
        try:
            with FoleyClient(server.address) as client:
                client.wait_until_ready()
                result = client.generate(
                    DEMO_TIMELINE,
                    out / "demo_foley.otio",
                    GenerateOptions(prompt=args.prompt),
                    audio_dir=out / "audio",
                    on_event=progress_feed(display),
                )
        finally:
            display.close()
            server.stop(grace_s=5)
    summary = result.summary
    print()
    print(f"result timeline: {result.timeline_path}")
    print(f"audio files ({len(result.audio_files)} Broadcast WAVs, 48 kHz):")
    for audio in sorted(result.audio_files.values(), key=lambda a: a.path.name):
        print(f"  {audio.path}")
    print(
        f"{summary.clips_generated} clips generated, {summary.clips_skipped} skipped, "
        f"{summary.clips_failed} failed in {summary.elapsed_s:.1f} s. Import "
        f"{result.timeline_path.name if result.timeline_path else 'the result'} into your editor."
    )
    return 0 if summary.clips_failed == 0 and result.timeline_path is not None else 1


if __name__ == "__main__":
    sys.exit(main())
