"""Demo and test material made on the spot: synthetic videos whose sound events are known.

`plugin_server.demo.media` draws small scenes (a disc hitting walls, a ball bouncing on a floor,
a walking figure, a frame counter), writes them as real video files with PyAV, and serves them
from memory as a `FrameSource`, always with the exact frames on which a sound should start.
"""
