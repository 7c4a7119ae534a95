"""The media tool: ffprobe says what an upload is, ffmpeg makes the web-friendly MP4 and the poster.

Both are the Debian `ffmpeg` package's programs (FFPROBE_BIN, FFMPEG_BIN), run with a list of arguments
(no shell) and a time limit. Nothing of an upload's own metadata survives: `-map_metadata -1` drops the
container's and every stream's tags (a phone's `location`/`©xyz`, the camera, the creation time), and
chapters and data streams are not mapped.
"""
import json
import logging
import math
import os
import subprocess  # nosec B404
import tempfile
import threading

log = logging.getLogger(__name__)

MAX_LONG_SIDE, MAX_SHORT_SIDE = 1920, 1080  # at most 1080p, landscape or portrait
NICENESS = 10


class MediaRefused(Exception):
    """The upload is not something we take: `code` says why (not_video, too_long)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class MediaFailed(Exception):
    """A video ffmpeg could not convert."""


def probe(ffprobe, path, timeout=60):
    """What `path` is: {container, duration, width, height, video_codec, audio_codec, rotation}.

    Anything ffprobe cannot read as a video with a duration is refused as `not_video`.
    """
    try:
        done = subprocess.run(  # nosec B603
            [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
            capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise MediaRefused("not_video", "The file could not be read as a video in time.") from None
    if done.returncode != 0:
        raise MediaRefused("not_video", "The file is not a video we can read (or it is cut short).")
    info = json.loads(done.stdout or b"{}")
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    container = info.get("format", {}).get("format_name", "")
    duration = _number(info.get("format", {}).get("duration")) or _number((video or {}).get("duration"))
    if video is None or not video.get("width") or not video.get("height") or container in IMAGE_FORMATS:
        raise MediaRefused("not_video", "The file has no video in it.")
    if not duration or duration <= 0:
        raise MediaRefused("not_video", "The video has no length we can read (it may be cut short).")
    return {"container": container, "duration": round(duration, 3), "width": int(video["width"]),
            "height": int(video["height"]), "video_codec": video.get("codec_name"),
            "audio_codec": (audio or {}).get("codec_name"), "rotation": _rotation(video)}


IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "bmp_pipe", "tiff_pipe"}


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rotation(stream):
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return int(_number(side["rotation"]) or 0)
    return int(_number(stream.get("tags", {}).get("rotate")) or 0)


def output_size(width, height, rotation=0):
    """The size to encode at: upright (ffmpeg turns a rotated phone video), at most 1080p, even sides."""
    if abs(rotation) % 180 == 90:
        width, height = height, width
    scale = min(1.0, MAX_LONG_SIDE / max(width, height), MAX_SHORT_SIDE / min(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _lower_priority():
    """In the child before ffmpeg starts: a conversion yields the CPU to web processes on the same machine."""
    os.nice(NICENESS)


def transcode(ffmpeg, source, target, info, on_progress=None, timeout=None):
    """`source` to an H.264/AAC MP4 at `target`: at most 1080p, fast start (the index first), no metadata.

    `on_progress(fraction)` is called as ffmpeg reports its position.
    """
    width, height = output_size(info["width"], info["height"], info.get("rotation", 0))
    command = [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(source),
               "-map", "0:v:0", "-map", "0:a:0?", "-map_metadata", "-1", "-map_chapters", "-1",
               "-vf", f"scale={width}:{height},format=yuv420p",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high",
               "-c:a", "aac", "-b:a", "128k", "-ac", "2",
               "-movflags", "+faststart", "-f", "mp4", "-progress", "pipe:1", "-nostats", str(target)]
    timeout = timeout or max(120.0, info["duration"] * 10)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors,  # nosec B603
                                   preexec_fn=_lower_priority)
        expired = threading.Event()

        def stop():
            expired.set()
            process.kill()  # the progress loop below ends when ffmpeg does
        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            for line in process.stdout:
                key, _, value = line.decode(errors="replace").strip().partition("=")
                if key == "out_time_us" and on_progress and value.isdigit():
                    on_progress(min(1.0, int(value) / 1e6 / info["duration"]))
            process.wait()
        finally:
            timer.cancel()
            process.stdout.close()
        if expired.is_set():
            raise MediaFailed("The video took too long to convert.")
        if process.returncode != 0:
            errors.seek(0)
            log.warning("ffmpeg could not convert a tape",
                        extra={"ffmpeg_error": errors.read()[-500:].decode(errors="replace")})
            raise MediaFailed("The video could not be converted (it may be damaged or cut short).")
    return width, height


def poster(ffmpeg, video, target, duration, timeout=60):
    """A JPEG still from `video` (a second in, or the middle of a shorter one), no metadata."""
    at = min(1.0, duration / 2)
    done = subprocess.run(  # nosec B603
        [ffmpeg, "-nostdin", "-v", "error", "-y", "-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1",
         "-map_metadata", "-1", "-q:v", "3", "-f", "image2", "-c:v", "mjpeg", str(target)],
        capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise MediaFailed("The poster could not be made.")
