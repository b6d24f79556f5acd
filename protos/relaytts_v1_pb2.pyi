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
    __slots__ = ("text", "language", "voice", "sampling", "noise_scale", "bundle_id", "cached_voice_hashes")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    NOISE_SCALE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    CACHED_VOICE_HASHES_FIELD_NUMBER: _ClassVar[int]
    text: str
    language: str
    voice: str
    sampling: SamplingParams
    noise_scale: float
    bundle_id: str
    cached_voice_hashes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., language: _Optional[str] = ..., voice: _Optional[str] = ..., sampling: _Optional[_Union[SamplingParams, _Mapping]] = ..., noise_scale: _Optional[float] = ..., bundle_id: _Optional[str] = ..., cached_voice_hashes: _Optional[_Iterable[str]] = ...) -> None: ...

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
