from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudioContainer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_CONTAINER_UNSPECIFIED: _ClassVar[AudioContainer]
    AUDIO_CONTAINER_WAV: _ClassVar[AudioContainer]
    AUDIO_CONTAINER_FLAC: _ClassVar[AudioContainer]

class SampleFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLE_FORMAT_UNSPECIFIED: _ClassVar[SampleFormat]
    SAMPLE_FORMAT_PCM24: _ClassVar[SampleFormat]
    SAMPLE_FORMAT_FLOAT32: _ClassVar[SampleFormat]

class AudioDelivery(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_DELIVERY_UNSPECIFIED: _ClassVar[AudioDelivery]
    AUDIO_DELIVERY_INLINE: _ClassVar[AudioDelivery]
    AUDIO_DELIVERY_OUTPUT_ROOT: _ClassVar[AudioDelivery]

class ClipStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIP_STATUS_UNSPECIFIED: _ClassVar[ClipStatus]
    CLIP_STATUS_GENERATED: _ClassVar[ClipStatus]
    CLIP_STATUS_CACHED: _ClassVar[ClipStatus]

class ProblemKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROBLEM_KIND_UNSPECIFIED: _ClassVar[ProblemKind]
    PROBLEM_KIND_SKIPPED: _ClassVar[ProblemKind]
    PROBLEM_KIND_MISSING_MEDIA: _ClassVar[ProblemKind]
    PROBLEM_KIND_OUTSIDE_MEDIA_ROOTS: _ClassVar[ProblemKind]
    PROBLEM_KIND_FAILED: _ClassVar[ProblemKind]
    PROBLEM_KIND_CANCELLED: _ClassVar[ProblemKind]
    PROBLEM_KIND_ENGINE_UNAVAILABLE: _ClassVar[ProblemKind]
AUDIO_CONTAINER_UNSPECIFIED: AudioContainer
AUDIO_CONTAINER_WAV: AudioContainer
AUDIO_CONTAINER_FLAC: AudioContainer
SAMPLE_FORMAT_UNSPECIFIED: SampleFormat
SAMPLE_FORMAT_PCM24: SampleFormat
SAMPLE_FORMAT_FLOAT32: SampleFormat
AUDIO_DELIVERY_UNSPECIFIED: AudioDelivery
AUDIO_DELIVERY_INLINE: AudioDelivery
AUDIO_DELIVERY_OUTPUT_ROOT: AudioDelivery
CLIP_STATUS_UNSPECIFIED: ClipStatus
CLIP_STATUS_GENERATED: ClipStatus
CLIP_STATUS_CACHED: ClipStatus
PROBLEM_KIND_UNSPECIFIED: ProblemKind
PROBLEM_KIND_SKIPPED: ProblemKind
PROBLEM_KIND_MISSING_MEDIA: ProblemKind
PROBLEM_KIND_OUTSIDE_MEDIA_ROOTS: ProblemKind
PROBLEM_KIND_FAILED: ProblemKind
PROBLEM_KIND_CANCELLED: ProblemKind
PROBLEM_KIND_ENGINE_UNAVAILABLE: ProblemKind

class TimelineSource(_message.Message):
    __slots__ = ("data", "path", "format", "source_name", "timeline_name")
    DATA_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_NAME_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    path: str
    format: str
    source_name: str
    timeline_name: str
    def __init__(self, data: _Optional[bytes] = ..., path: _Optional[str] = ..., format: _Optional[str] = ..., source_name: _Optional[str] = ..., timeline_name: _Optional[str] = ...) -> None: ...

class AudioFormat(_message.Message):
    __slots__ = ("container", "sample_format", "channels")
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    container: AudioContainer
    sample_format: SampleFormat
    channels: int
    def __init__(self, container: _Optional[_Union[AudioContainer, str]] = ..., sample_format: _Optional[_Union[SampleFormat, str]] = ..., channels: _Optional[int] = ...) -> None: ...

class MediaMapping(_message.Message):
    __slots__ = ("from_prefix", "to_prefix")
    FROM_PREFIX_FIELD_NUMBER: _ClassVar[int]
    TO_PREFIX_FIELD_NUMBER: _ClassVar[int]
    from_prefix: str
    to_prefix: str
    def __init__(self, from_prefix: _Optional[str] = ..., to_prefix: _Optional[str] = ...) -> None: ...

class GenerationOptions(_message.Message):
    __slots__ = ("engine", "preset", "parameters", "prompt", "negative_prompt", "seed", "tracks", "handles_frames", "audio_format", "loudness_target_lufs", "delivery", "output_dir", "inline_audio_dir", "result_format", "media_search_dirs", "media_maps", "skip_cache", "lora")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_PROMPT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TRACKS_FIELD_NUMBER: _ClassVar[int]
    HANDLES_FRAMES_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LOUDNESS_TARGET_LUFS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIR_FIELD_NUMBER: _ClassVar[int]
    INLINE_AUDIO_DIR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SEARCH_DIRS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_MAPS_FIELD_NUMBER: _ClassVar[int]
    SKIP_CACHE_FIELD_NUMBER: _ClassVar[int]
    LORA_FIELD_NUMBER: _ClassVar[int]
    engine: str
    preset: str
    parameters: _struct_pb2.Struct
    prompt: str
    negative_prompt: str
    seed: int
    tracks: _containers.RepeatedScalarFieldContainer[str]
    handles_frames: int
    audio_format: AudioFormat
    loudness_target_lufs: float
    delivery: AudioDelivery
    output_dir: str
    inline_audio_dir: str
    result_format: str
    media_search_dirs: _containers.RepeatedScalarFieldContainer[str]
    media_maps: _containers.RepeatedCompositeFieldContainer[MediaMapping]
    skip_cache: bool
    lora: str
    def __init__(self, engine: _Optional[str] = ..., preset: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., prompt: _Optional[str] = ..., negative_prompt: _Optional[str] = ..., seed: _Optional[int] = ..., tracks: _Optional[_Iterable[str]] = ..., handles_frames: _Optional[int] = ..., audio_format: _Optional[_Union[AudioFormat, _Mapping]] = ..., loudness_target_lufs: _Optional[float] = ..., delivery: _Optional[_Union[AudioDelivery, str]] = ..., output_dir: _Optional[str] = ..., inline_audio_dir: _Optional[str] = ..., result_format: _Optional[str] = ..., media_search_dirs: _Optional[_Iterable[str]] = ..., media_maps: _Optional[_Iterable[_Union[MediaMapping, _Mapping]]] = ..., skip_cache: _Optional[bool] = ..., lora: _Optional[str] = ...) -> None: ...

class GenerateFoleyRequest(_message.Message):
    __slots__ = ("timeline", "options")
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    timeline: TimelineSource
    options: GenerationOptions
    def __init__(self, timeline: _Optional[_Union[TimelineSource, _Mapping]] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ...) -> None: ...

class GenerateFoleyResponse(_message.Message):
    __slots__ = ("accepted", "progress", "audio_chunk", "clip_result", "clip_problem", "result_timeline", "summary")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CHUNK_FIELD_NUMBER: _ClassVar[int]
    CLIP_RESULT_FIELD_NUMBER: _ClassVar[int]
    CLIP_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    RESULT_TIMELINE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    accepted: JobAccepted
    progress: ClipProgress
    audio_chunk: AudioChunk
    clip_result: ClipResult
    clip_problem: ClipProblem
    result_timeline: ResultTimeline
    summary: JobSummary
    def __init__(self, accepted: _Optional[_Union[JobAccepted, _Mapping]] = ..., progress: _Optional[_Union[ClipProgress, _Mapping]] = ..., audio_chunk: _Optional[_Union[AudioChunk, _Mapping]] = ..., clip_result: _Optional[_Union[ClipResult, _Mapping]] = ..., clip_problem: _Optional[_Union[ClipProblem, _Mapping]] = ..., result_timeline: _Optional[_Union[ResultTimeline, _Mapping]] = ..., summary: _Optional[_Union[JobSummary, _Mapping]] = ...) -> None: ...

class GenerateClipRequest(_message.Message):
    __slots__ = ("media_path", "media_start_s", "media_duration_s", "time_scalar", "record_duration_s", "record_start_s", "clip_id", "options")
    MEDIA_PATH_FIELD_NUMBER: _ClassVar[int]
    MEDIA_START_S_FIELD_NUMBER: _ClassVar[int]
    MEDIA_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    TIME_SCALAR_FIELD_NUMBER: _ClassVar[int]
    RECORD_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    RECORD_START_S_FIELD_NUMBER: _ClassVar[int]
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    media_path: str
    media_start_s: float
    media_duration_s: float
    time_scalar: float
    record_duration_s: float
    record_start_s: float
    clip_id: str
    options: GenerationOptions
    def __init__(self, media_path: _Optional[str] = ..., media_start_s: _Optional[float] = ..., media_duration_s: _Optional[float] = ..., time_scalar: _Optional[float] = ..., record_duration_s: _Optional[float] = ..., record_start_s: _Optional[float] = ..., clip_id: _Optional[str] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ...) -> None: ...

class GenerateClipResponse(_message.Message):
    __slots__ = ("accepted", "progress", "audio_chunk", "clip_result", "clip_problem", "summary")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CHUNK_FIELD_NUMBER: _ClassVar[int]
    CLIP_RESULT_FIELD_NUMBER: _ClassVar[int]
    CLIP_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    accepted: JobAccepted
    progress: ClipProgress
    audio_chunk: AudioChunk
    clip_result: ClipResult
    clip_problem: ClipProblem
    summary: JobSummary
    def __init__(self, accepted: _Optional[_Union[JobAccepted, _Mapping]] = ..., progress: _Optional[_Union[ClipProgress, _Mapping]] = ..., audio_chunk: _Optional[_Union[AudioChunk, _Mapping]] = ..., clip_result: _Optional[_Union[ClipResult, _Mapping]] = ..., clip_problem: _Optional[_Union[ClipProblem, _Mapping]] = ..., summary: _Optional[_Union[JobSummary, _Mapping]] = ...) -> None: ...

class JobAccepted(_message.Message):
    __slots__ = ("job_id", "clip_count", "plan")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CLIP_COUNT_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    clip_count: int
    plan: Plan
    def __init__(self, job_id: _Optional[str] = ..., clip_count: _Optional[int] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("engine", "model", "preset", "device", "parameters", "clips", "problems", "estimated_seconds", "estimated_peak_memory_bytes", "timeline_name", "timeline_format", "notes")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_NAME_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    engine: str
    model: str
    preset: str
    device: str
    parameters: _struct_pb2.Struct
    clips: _containers.RepeatedCompositeFieldContainer[ClipPlan]
    problems: _containers.RepeatedCompositeFieldContainer[ClipProblem]
    estimated_seconds: float
    estimated_peak_memory_bytes: int
    timeline_name: str
    timeline_format: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, engine: _Optional[str] = ..., model: _Optional[str] = ..., preset: _Optional[str] = ..., device: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., clips: _Optional[_Iterable[_Union[ClipPlan, _Mapping]]] = ..., problems: _Optional[_Iterable[_Union[ClipProblem, _Mapping]]] = ..., estimated_seconds: _Optional[float] = ..., estimated_peak_memory_bytes: _Optional[int] = ..., timeline_name: _Optional[str] = ..., timeline_format: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class ClipPlan(_message.Message):
    __slots__ = ("clip_id", "name", "track_index", "track_name", "record_timecode", "duration_s", "media_path", "media_start_s", "media_duration_s", "time_scalar", "prompt", "estimated_memory_bytes", "estimated_seconds", "cached", "preset")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRACK_INDEX_FIELD_NUMBER: _ClassVar[int]
    TRACK_NAME_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIMECODE_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    MEDIA_PATH_FIELD_NUMBER: _ClassVar[int]
    MEDIA_START_S_FIELD_NUMBER: _ClassVar[int]
    MEDIA_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    TIME_SCALAR_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    name: str
    track_index: int
    track_name: str
    record_timecode: str
    duration_s: float
    media_path: str
    media_start_s: float
    media_duration_s: float
    time_scalar: float
    prompt: str
    estimated_memory_bytes: int
    estimated_seconds: float
    cached: bool
    preset: str
    def __init__(self, clip_id: _Optional[str] = ..., name: _Optional[str] = ..., track_index: _Optional[int] = ..., track_name: _Optional[str] = ..., record_timecode: _Optional[str] = ..., duration_s: _Optional[float] = ..., media_path: _Optional[str] = ..., media_start_s: _Optional[float] = ..., media_duration_s: _Optional[float] = ..., time_scalar: _Optional[float] = ..., prompt: _Optional[str] = ..., estimated_memory_bytes: _Optional[int] = ..., estimated_seconds: _Optional[float] = ..., cached: _Optional[bool] = ..., preset: _Optional[str] = ...) -> None: ...

class ClipProgress(_message.Message):
    __slots__ = ("clip_id", "stage", "percent")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    stage: str
    percent: float
    def __init__(self, clip_id: _Optional[str] = ..., stage: _Optional[str] = ..., percent: _Optional[float] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("clip_id", "file_name", "offset", "data")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    file_name: str
    offset: int
    data: bytes
    def __init__(self, clip_id: _Optional[str] = ..., file_name: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class ClipResult(_message.Message):
    __slots__ = ("clip_id", "status", "from_cache", "file_name", "path", "size_bytes", "sha256", "report")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FROM_CACHE_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    status: ClipStatus
    from_cache: bool
    file_name: str
    path: str
    size_bytes: int
    sha256: str
    report: ClipReport
    def __init__(self, clip_id: _Optional[str] = ..., status: _Optional[_Union[ClipStatus, str]] = ..., from_cache: _Optional[bool] = ..., file_name: _Optional[str] = ..., path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., report: _Optional[_Union[ClipReport, _Mapping]] = ...) -> None: ...

class ClipReport(_message.Message):
    __slots__ = ("engine", "model", "parameters", "peak_memory_bytes", "stage_seconds", "notes", "sample_rate", "num_samples", "duration_s", "loudness_lufs", "true_peak_dbtp", "seed", "prompt", "elapsed_s", "lora")
    class StageSecondsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    STAGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    NUM_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    LOUDNESS_LUFS_FIELD_NUMBER: _ClassVar[int]
    TRUE_PEAK_DBTP_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    LORA_FIELD_NUMBER: _ClassVar[int]
    engine: str
    model: str
    parameters: _struct_pb2.Struct
    peak_memory_bytes: int
    stage_seconds: _containers.ScalarMap[str, float]
    notes: _containers.RepeatedScalarFieldContainer[str]
    sample_rate: int
    num_samples: int
    duration_s: float
    loudness_lufs: float
    true_peak_dbtp: float
    seed: int
    prompt: str
    elapsed_s: float
    lora: str
    def __init__(self, engine: _Optional[str] = ..., model: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., peak_memory_bytes: _Optional[int] = ..., stage_seconds: _Optional[_Mapping[str, float]] = ..., notes: _Optional[_Iterable[str]] = ..., sample_rate: _Optional[int] = ..., num_samples: _Optional[int] = ..., duration_s: _Optional[float] = ..., loudness_lufs: _Optional[float] = ..., true_peak_dbtp: _Optional[float] = ..., seed: _Optional[int] = ..., prompt: _Optional[str] = ..., elapsed_s: _Optional[float] = ..., lora: _Optional[str] = ...) -> None: ...

class ClipProblem(_message.Message):
    __slots__ = ("clip_id", "kind", "reason", "name", "track_name", "record_timecode", "track_index")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRACK_NAME_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIMECODE_FIELD_NUMBER: _ClassVar[int]
    TRACK_INDEX_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    kind: ProblemKind
    reason: str
    name: str
    track_name: str
    record_timecode: str
    track_index: int
    def __init__(self, clip_id: _Optional[str] = ..., kind: _Optional[_Union[ProblemKind, str]] = ..., reason: _Optional[str] = ..., name: _Optional[str] = ..., track_name: _Optional[str] = ..., record_timecode: _Optional[str] = ..., track_index: _Optional[int] = ...) -> None: ...

class ResultTimeline(_message.Message):
    __slots__ = ("data", "format", "file_name", "path", "offset", "total_size_bytes")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    format: str
    file_name: str
    path: str
    offset: int
    total_size_bytes: int
    def __init__(self, data: _Optional[bytes] = ..., format: _Optional[str] = ..., file_name: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., total_size_bytes: _Optional[int] = ...) -> None: ...

class JobSummary(_message.Message):
    __slots__ = ("job_id", "clips_total", "clips_generated", "clips_cached", "clips_failed", "clips_skipped", "clips_cancelled", "elapsed_s", "cancelled")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CLIPS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CLIPS_GENERATED_FIELD_NUMBER: _ClassVar[int]
    CLIPS_CACHED_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FAILED_FIELD_NUMBER: _ClassVar[int]
    CLIPS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    CLIPS_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    clips_total: int
    clips_generated: int
    clips_cached: int
    clips_failed: int
    clips_skipped: int
    clips_cancelled: int
    elapsed_s: float
    cancelled: bool
    def __init__(self, job_id: _Optional[str] = ..., clips_total: _Optional[int] = ..., clips_generated: _Optional[int] = ..., clips_cached: _Optional[int] = ..., clips_failed: _Optional[int] = ..., clips_skipped: _Optional[int] = ..., clips_cancelled: _Optional[int] = ..., elapsed_s: _Optional[float] = ..., cancelled: _Optional[bool] = ...) -> None: ...

class GetCapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCapabilitiesResponse(_message.Message):
    __slots__ = ("server_version", "default_engine", "default_preset", "engines", "presets", "devices", "timeline_formats", "audio_containers", "limits", "output_root_configured")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ENGINE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PRESET_FIELD_NUMBER: _ClassVar[int]
    ENGINES_FIELD_NUMBER: _ClassVar[int]
    PRESETS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FORMATS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ROOT_CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    default_engine: str
    default_preset: str
    engines: _containers.RepeatedCompositeFieldContainer[EngineCapability]
    presets: _containers.RepeatedCompositeFieldContainer[PresetCapability]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    timeline_formats: _containers.RepeatedScalarFieldContainer[str]
    audio_containers: _containers.RepeatedScalarFieldContainer[str]
    limits: Limits
    output_root_configured: bool
    def __init__(self, server_version: _Optional[str] = ..., default_engine: _Optional[str] = ..., default_preset: _Optional[str] = ..., engines: _Optional[_Iterable[_Union[EngineCapability, _Mapping]]] = ..., presets: _Optional[_Iterable[_Union[PresetCapability, _Mapping]]] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., timeline_formats: _Optional[_Iterable[str]] = ..., audio_containers: _Optional[_Iterable[str]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., output_root_configured: _Optional[bool] = ...) -> None: ...

class EngineCapability(_message.Message):
    __slots__ = ("name", "model", "available", "reason", "device", "libraries")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    LIBRARIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    available: bool
    reason: str
    device: str
    libraries: _containers.RepeatedCompositeFieldContainer[SoundLibrary]
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., available: _Optional[bool] = ..., reason: _Optional[str] = ..., device: _Optional[str] = ..., libraries: _Optional[_Iterable[_Union[SoundLibrary, _Mapping]]] = ...) -> None: ...

class SoundLibrary(_message.Message):
    __slots__ = ("path", "files", "bytes", "duration_seconds", "skipped_files")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FILES_FIELD_NUMBER: _ClassVar[int]
    path: str
    files: int
    bytes: int
    duration_seconds: float
    skipped_files: int
    def __init__(self, path: _Optional[str] = ..., files: _Optional[int] = ..., bytes: _Optional[int] = ..., duration_seconds: _Optional[float] = ..., skipped_files: _Optional[int] = ...) -> None: ...

class PresetCapability(_message.Message):
    __slots__ = ("name", "description", "parameters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("name", "description", "total_memory_bytes", "free_memory_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    total_memory_bytes: int
    free_memory_bytes: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., total_memory_bytes: _Optional[int] = ..., free_memory_bytes: _Optional[int] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_message_bytes", "max_queued_jobs", "max_clips_per_job", "audio_chunk_bytes", "workers")
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUED_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_CLIPS_PER_JOB_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    max_message_bytes: int
    max_queued_jobs: int
    max_clips_per_job: int
    audio_chunk_bytes: int
    workers: int
    def __init__(self, max_message_bytes: _Optional[int] = ..., max_queued_jobs: _Optional[int] = ..., max_clips_per_job: _Optional[int] = ..., audio_chunk_bytes: _Optional[int] = ..., workers: _Optional[int] = ...) -> None: ...

class EstimatePlanRequest(_message.Message):
    __slots__ = ("timeline", "options")
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    timeline: TimelineSource
    options: GenerationOptions
    def __init__(self, timeline: _Optional[_Union[TimelineSource, _Mapping]] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ...) -> None: ...

class EstimatePlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...
