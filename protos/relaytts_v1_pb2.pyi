from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOP_REASON_UNSPECIFIED: _ClassVar[StopReason]
    STOP_REASON_EOS: _ClassVar[StopReason]
    STOP_REASON_EARLY_STOP: _ClassVar[StopReason]
    STOP_REASON_MAX_TOKENS: _ClassVar[StopReason]
    STOP_REASON_CANCELLED: _ClassVar[StopReason]

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_QUEUED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_DONE: _ClassVar[JobStatus]
    JOB_STATUS_CANCELLED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]

class BookFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOK_FORMAT_UNSPECIFIED: _ClassVar[BookFormat]
    BOOK_FORMAT_TEXT: _ClassVar[BookFormat]
    BOOK_FORMAT_MARKDOWN: _ClassVar[BookFormat]
    BOOK_FORMAT_EPUB: _ClassVar[BookFormat]

class JobEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_EVENT_KIND_UNSPECIFIED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_SNAPSHOT: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_PLANNED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_SEGMENT: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_REROLLED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_CANCELLED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_FAILED: _ClassVar[JobEventKind]
STOP_REASON_UNSPECIFIED: StopReason
STOP_REASON_EOS: StopReason
STOP_REASON_EARLY_STOP: StopReason
STOP_REASON_MAX_TOKENS: StopReason
STOP_REASON_CANCELLED: StopReason
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_DONE: JobStatus
JOB_STATUS_CANCELLED: JobStatus
JOB_STATUS_FAILED: JobStatus
BOOK_FORMAT_UNSPECIFIED: BookFormat
BOOK_FORMAT_TEXT: BookFormat
BOOK_FORMAT_MARKDOWN: BookFormat
BOOK_FORMAT_EPUB: BookFormat
JOB_EVENT_KIND_UNSPECIFIED: JobEventKind
JOB_EVENT_KIND_SNAPSHOT: JobEventKind
JOB_EVENT_KIND_PLANNED: JobEventKind
JOB_EVENT_KIND_SEGMENT: JobEventKind
JOB_EVENT_KIND_REROLLED: JobEventKind
JOB_EVENT_KIND_CANCELLED: JobEventKind
JOB_EVENT_KIND_FAILED: JobEventKind

class SamplingParams(_message.Message):
    __slots__ = ("top_k", "top_p", "temperature", "repetition_penalty", "seed", "max_new_tokens")
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    REPETITION_PENALTY_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    top_k: int
    top_p: float
    temperature: float
    repetition_penalty: float
    seed: int
    max_new_tokens: int
    def __init__(self, top_k: _Optional[int] = ..., top_p: _Optional[float] = ..., temperature: _Optional[float] = ..., repetition_penalty: _Optional[float] = ..., seed: _Optional[int] = ..., max_new_tokens: _Optional[int] = ...) -> None: ...

class SynthesizeRequest(_message.Message):
    __slots__ = ("text", "language", "voice", "sampling", "noise_scale", "bundle_id", "cached_voice_hashes", "request_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    NOISE_SCALE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    CACHED_VOICE_HASHES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    language: str
    voice: str
    sampling: SamplingParams
    noise_scale: float
    bundle_id: str
    cached_voice_hashes: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    def __init__(self, text: _Optional[str] = ..., language: _Optional[str] = ..., voice: _Optional[str] = ..., sampling: _Optional[_Union[SamplingParams, _Mapping]] = ..., noise_scale: _Optional[float] = ..., bundle_id: _Optional[str] = ..., cached_voice_hashes: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ResumeRequest(_message.Message):
    __slots__ = ("job_id", "after_seq")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after_seq: int
    def __init__(self, job_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: _Optional[bool] = ...) -> None: ...

class ServerTimings(_message.Message):
    __slots__ = ("queue_wait_us", "frontend_us", "prefill_us", "decode_us")
    QUEUE_WAIT_US_FIELD_NUMBER: _ClassVar[int]
    FRONTEND_US_FIELD_NUMBER: _ClassVar[int]
    PREFILL_US_FIELD_NUMBER: _ClassVar[int]
    DECODE_US_FIELD_NUMBER: _ClassVar[int]
    queue_wait_us: int
    frontend_us: int
    prefill_us: int
    decode_us: int
    def __init__(self, queue_wait_us: _Optional[int] = ..., frontend_us: _Optional[int] = ..., prefill_us: _Optional[int] = ..., decode_us: _Optional[int] = ...) -> None: ...

class LatentChunk(_message.Message):
    __slots__ = ("job_id", "seq", "epoch", "segment_index", "tokens", "phones", "voice_hash", "ge", "noise_seed", "noise_scale", "segment_final", "final", "stop_reason", "status", "error", "timings", "segment_count")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    VOICE_HASH_FIELD_NUMBER: _ClassVar[int]
    GE_FIELD_NUMBER: _ClassVar[int]
    NOISE_SEED_FIELD_NUMBER: _ClassVar[int]
    NOISE_SCALE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FINAL_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    seq: int
    epoch: int
    segment_index: int
    tokens: _containers.RepeatedScalarFieldContainer[int]
    phones: _containers.RepeatedScalarFieldContainer[int]
    voice_hash: str
    ge: bytes
    noise_seed: int
    noise_scale: float
    segment_final: bool
    final: bool
    stop_reason: StopReason
    status: JobStatus
    error: str
    timings: ServerTimings
    segment_count: int
    def __init__(self, job_id: _Optional[str] = ..., seq: _Optional[int] = ..., epoch: _Optional[int] = ..., segment_index: _Optional[int] = ..., tokens: _Optional[_Iterable[int]] = ..., phones: _Optional[_Iterable[int]] = ..., voice_hash: _Optional[str] = ..., ge: _Optional[bytes] = ..., noise_seed: _Optional[int] = ..., noise_scale: _Optional[float] = ..., segment_final: _Optional[bool] = ..., final: _Optional[bool] = ..., stop_reason: _Optional[_Union[StopReason, str]] = ..., status: _Optional[_Union[JobStatus, str]] = ..., error: _Optional[str] = ..., timings: _Optional[_Union[ServerTimings, _Mapping]] = ..., segment_count: _Optional[int] = ...) -> None: ...

class PlaybackReport(_message.Message):
    __slots__ = ("job_id", "time_to_first_audio_seconds", "real_time_factor", "underruns", "audio_seconds")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REAL_TIME_FACTOR_FIELD_NUMBER: _ClassVar[int]
    UNDERRUNS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    time_to_first_audio_seconds: float
    real_time_factor: float
    underruns: int
    audio_seconds: float
    def __init__(self, job_id: _Optional[str] = ..., time_to_first_audio_seconds: _Optional[float] = ..., real_time_factor: _Optional[float] = ..., underruns: _Optional[int] = ..., audio_seconds: _Optional[float] = ...) -> None: ...

class PlaybackAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelFile(_message.Message):
    __slots__ = ("path", "role", "precision", "sha256", "size_bytes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    role: str
    precision: str
    sha256: str
    size_bytes: int
    def __init__(self, path: _Optional[str] = ..., role: _Optional[str] = ..., precision: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("bundle_id", "model_version", "sample_rate_hz", "samples_per_token", "edge_files", "edge_manifest")
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EDGE_FILES_FIELD_NUMBER: _ClassVar[int]
    EDGE_MANIFEST_FIELD_NUMBER: _ClassVar[int]
    bundle_id: str
    model_version: str
    sample_rate_hz: int
    samples_per_token: int
    edge_files: _containers.RepeatedCompositeFieldContainer[ModelFile]
    edge_manifest: bytes
    def __init__(self, bundle_id: _Optional[str] = ..., model_version: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ..., samples_per_token: _Optional[int] = ..., edge_files: _Optional[_Iterable[_Union[ModelFile, _Mapping]]] = ..., edge_manifest: _Optional[bytes] = ...) -> None: ...

class FetchModelFileRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class FileChunk(_message.Message):
    __slots__ = ("data", "offset", "total_size_bytes")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    total_size_bytes: int
    def __init__(self, data: _Optional[bytes] = ..., offset: _Optional[int] = ..., total_size_bytes: _Optional[int] = ...) -> None: ...

class BookHeader(_message.Message):
    __slots__ = ("filename", "format", "title", "voice", "language", "sampling", "noise_scale", "bundle_id", "size_bytes")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    NOISE_SCALE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    filename: str
    format: BookFormat
    title: str
    voice: str
    language: str
    sampling: SamplingParams
    noise_scale: float
    bundle_id: str
    size_bytes: int
    def __init__(self, filename: _Optional[str] = ..., format: _Optional[_Union[BookFormat, str]] = ..., title: _Optional[str] = ..., voice: _Optional[str] = ..., language: _Optional[str] = ..., sampling: _Optional[_Union[SamplingParams, _Mapping]] = ..., noise_scale: _Optional[float] = ..., bundle_id: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class SubmitBookRequest(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: BookHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[BookHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class BookSegment(_message.Message):
    __slots__ = ("chapter_index", "segment_index", "status", "text", "seed", "take", "take_id", "tokens", "audio_seconds", "stop_reason", "error")
    CHAPTER_INDEX_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TAKE_FIELD_NUMBER: _ClassVar[int]
    TAKE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    chapter_index: int
    segment_index: int
    status: JobStatus
    text: str
    seed: int
    take: int
    take_id: str
    tokens: int
    audio_seconds: float
    stop_reason: StopReason
    error: str
    def __init__(self, chapter_index: _Optional[int] = ..., segment_index: _Optional[int] = ..., status: _Optional[_Union[JobStatus, str]] = ..., text: _Optional[str] = ..., seed: _Optional[int] = ..., take: _Optional[int] = ..., take_id: _Optional[str] = ..., tokens: _Optional[int] = ..., audio_seconds: _Optional[float] = ..., stop_reason: _Optional[_Union[StopReason, str]] = ..., error: _Optional[str] = ...) -> None: ...

class BookChapter(_message.Message):
    __slots__ = ("index", "title", "status", "segments_total", "segments_done", "segments_failed", "audio_seconds", "segments")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_DONE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FAILED_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    index: int
    title: str
    status: JobStatus
    segments_total: int
    segments_done: int
    segments_failed: int
    audio_seconds: float
    segments: _containers.RepeatedCompositeFieldContainer[BookSegment]
    def __init__(self, index: _Optional[int] = ..., title: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., segments_total: _Optional[int] = ..., segments_done: _Optional[int] = ..., segments_failed: _Optional[int] = ..., audio_seconds: _Optional[float] = ..., segments: _Optional[_Iterable[_Union[BookSegment, _Mapping]]] = ...) -> None: ...

class BookJob(_message.Message):
    __slots__ = ("job_id", "title", "format", "voice", "language", "status", "error", "seed", "noise_scale", "created_at_unix_seconds", "started_at_unix_seconds", "finished_at_unix_seconds", "planned", "chapters_total", "segments_total", "segments_done", "segments_failed", "tokens_done", "audio_seconds_done", "eta_seconds", "audio_seconds_per_second", "chapters")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NOISE_SCALE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_UNIX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_UNIX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PLANNED_FIELD_NUMBER: _ClassVar[int]
    CHAPTERS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_DONE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FAILED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_DONE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_DONE_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    CHAPTERS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    title: str
    format: BookFormat
    voice: str
    language: str
    status: JobStatus
    error: str
    seed: int
    noise_scale: float
    created_at_unix_seconds: float
    started_at_unix_seconds: float
    finished_at_unix_seconds: float
    planned: bool
    chapters_total: int
    segments_total: int
    segments_done: int
    segments_failed: int
    tokens_done: int
    audio_seconds_done: float
    eta_seconds: float
    audio_seconds_per_second: float
    chapters: _containers.RepeatedCompositeFieldContainer[BookChapter]
    def __init__(self, job_id: _Optional[str] = ..., title: _Optional[str] = ..., format: _Optional[_Union[BookFormat, str]] = ..., voice: _Optional[str] = ..., language: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., error: _Optional[str] = ..., seed: _Optional[int] = ..., noise_scale: _Optional[float] = ..., created_at_unix_seconds: _Optional[float] = ..., started_at_unix_seconds: _Optional[float] = ..., finished_at_unix_seconds: _Optional[float] = ..., planned: _Optional[bool] = ..., chapters_total: _Optional[int] = ..., segments_total: _Optional[int] = ..., segments_done: _Optional[int] = ..., segments_failed: _Optional[int] = ..., tokens_done: _Optional[int] = ..., audio_seconds_done: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., audio_seconds_per_second: _Optional[float] = ..., chapters: _Optional[_Iterable[_Union[BookChapter, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id", "include_segments")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    include_segments: bool
    def __init__(self, job_id: _Optional[str] = ..., include_segments: _Optional[bool] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[BookJob]
    def __init__(self, jobs: _Optional[_Iterable[_Union[BookJob, _Mapping]]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "kind", "status", "segments_total", "segments_done", "segments_failed", "audio_seconds_done", "eta_seconds", "audio_seconds_per_second", "segment", "final", "error", "at_unix_seconds")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_DONE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FAILED_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_DONE_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    AT_UNIX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    kind: JobEventKind
    status: JobStatus
    segments_total: int
    segments_done: int
    segments_failed: int
    audio_seconds_done: float
    eta_seconds: float
    audio_seconds_per_second: float
    segment: BookSegment
    final: bool
    error: str
    at_unix_seconds: float
    def __init__(self, job_id: _Optional[str] = ..., kind: _Optional[_Union[JobEventKind, str]] = ..., status: _Optional[_Union[JobStatus, str]] = ..., segments_total: _Optional[int] = ..., segments_done: _Optional[int] = ..., segments_failed: _Optional[int] = ..., audio_seconds_done: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., audio_seconds_per_second: _Optional[float] = ..., segment: _Optional[_Union[BookSegment, _Mapping]] = ..., final: _Optional[bool] = ..., error: _Optional[str] = ..., at_unix_seconds: _Optional[float] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: _Optional[bool] = ...) -> None: ...

class RerollSegmentRequest(_message.Message):
    __slots__ = ("job_id", "chapter_index", "segment_index", "seed")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHAPTER_INDEX_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    chapter_index: int
    segment_index: int
    seed: int
    def __init__(self, job_id: _Optional[str] = ..., chapter_index: _Optional[int] = ..., segment_index: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class StreamSegmentRequest(_message.Message):
    __slots__ = ("job_id", "chapter_index", "segment_index", "after_seq", "cached_voice_hashes")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHAPTER_INDEX_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    CACHED_VOICE_HASHES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    chapter_index: int
    segment_index: int
    after_seq: int
    cached_voice_hashes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_id: _Optional[str] = ..., chapter_index: _Optional[int] = ..., segment_index: _Optional[int] = ..., after_seq: _Optional[int] = ..., cached_voice_hashes: _Optional[_Iterable[str]] = ...) -> None: ...

class VoiceMetadata(_message.Message):
    __slots__ = ("name", "language", "transcript", "size_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    language: str
    transcript: str
    size_bytes: int
    def __init__(self, name: _Optional[str] = ..., language: _Optional[str] = ..., transcript: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class RegisterVoiceRequest(_message.Message):
    __slots__ = ("metadata", "audio")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    metadata: VoiceMetadata
    audio: bytes
    def __init__(self, metadata: _Optional[_Union[VoiceMetadata, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class VoiceInfo(_message.Message):
    __slots__ = ("voice_id", "name", "language", "transcript", "bundle_id", "model_version", "content_hash", "voice_hash", "created_at_unix_seconds", "updated_at_unix_seconds", "audio_seconds", "audio_format", "prompt_phone_count", "prompt_token_count")
    VOICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    VOICE_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_UNIX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FORMAT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_PHONE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    voice_id: str
    name: str
    language: str
    transcript: str
    bundle_id: str
    model_version: str
    content_hash: str
    voice_hash: str
    created_at_unix_seconds: float
    updated_at_unix_seconds: float
    audio_seconds: float
    audio_format: str
    prompt_phone_count: int
    prompt_token_count: int
    def __init__(self, voice_id: _Optional[str] = ..., name: _Optional[str] = ..., language: _Optional[str] = ..., transcript: _Optional[str] = ..., bundle_id: _Optional[str] = ..., model_version: _Optional[str] = ..., content_hash: _Optional[str] = ..., voice_hash: _Optional[str] = ..., created_at_unix_seconds: _Optional[float] = ..., updated_at_unix_seconds: _Optional[float] = ..., audio_seconds: _Optional[float] = ..., audio_format: _Optional[str] = ..., prompt_phone_count: _Optional[int] = ..., prompt_token_count: _Optional[int] = ...) -> None: ...

class ListVoicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVoicesResponse(_message.Message):
    __slots__ = ("voices", "next_page_token")
    VOICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[VoiceInfo]
    next_page_token: str
    def __init__(self, voices: _Optional[_Iterable[_Union[VoiceInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetVoiceRequest(_message.Message):
    __slots__ = ("voice_id",)
    VOICE_ID_FIELD_NUMBER: _ClassVar[int]
    voice_id: str
    def __init__(self, voice_id: _Optional[str] = ...) -> None: ...

class VoiceUpdate(_message.Message):
    __slots__ = ("voice_id", "name", "transcript", "language", "recompute", "size_bytes")
    VOICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    RECOMPUTE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    voice_id: str
    name: str
    transcript: str
    language: str
    recompute: bool
    size_bytes: int
    def __init__(self, voice_id: _Optional[str] = ..., name: _Optional[str] = ..., transcript: _Optional[str] = ..., language: _Optional[str] = ..., recompute: _Optional[bool] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class UpdateVoiceRequest(_message.Message):
    __slots__ = ("update", "audio")
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    update: VoiceUpdate
    audio: bytes
    def __init__(self, update: _Optional[_Union[VoiceUpdate, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class DeleteVoiceRequest(_message.Message):
    __slots__ = ("voice_id",)
    VOICE_ID_FIELD_NUMBER: _ClassVar[int]
    voice_id: str
    def __init__(self, voice_id: _Optional[str] = ...) -> None: ...

class DeleteVoiceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExportVoicesRequest(_message.Message):
    __slots__ = ("voice_ids",)
    VOICE_IDS_FIELD_NUMBER: _ClassVar[int]
    voice_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, voice_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ImportVoicesOptions(_message.Message):
    __slots__ = ("replace_existing",)
    REPLACE_EXISTING_FIELD_NUMBER: _ClassVar[int]
    replace_existing: bool
    def __init__(self, replace_existing: _Optional[bool] = ...) -> None: ...

class ImportVoicesRequest(_message.Message):
    __slots__ = ("options", "data")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    options: ImportVoicesOptions
    data: bytes
    def __init__(self, options: _Optional[_Union[ImportVoicesOptions, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class ImportVoicesResponse(_message.Message):
    __slots__ = ("imported_voice_ids", "skipped_voice_ids")
    IMPORTED_VOICE_IDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_VOICE_IDS_FIELD_NUMBER: _ClassVar[int]
    imported_voice_ids: _containers.RepeatedScalarFieldContainer[str]
    skipped_voice_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, imported_voice_ids: _Optional[_Iterable[str]] = ..., skipped_voice_ids: _Optional[_Iterable[str]] = ...) -> None: ...
