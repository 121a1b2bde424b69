# Type stub of the cffi-compiled extension built from csrc/ by _cffi_src/build_pyshrink.py.
# `lib` carries the functions and enum constants declared in csrc/pyshrink.h.
from typing import Any

class _FFI:
    NULL: Any
    def new(self, cdecl: str, init: Any = ...) -> Any: ...
    def from_buffer(self, cdecl: str, python_buffer: Any = ..., require_writable: bool = ...) -> Any: ...
    def string(self, cdata: Any, maxlen: int = ...) -> bytes: ...

class _Lib:
    PS_OK: int
    PS_ERR_NULL: int
    PS_ERR_SHAPE: int
    PS_ERR_PARAM: int
    PS_ERR_OUTPUT_SIZE: int
    PS_ERR_POOL_COUNT: int
    PS_ERR_OVERFLOW: int
    PS_ERR_SCRATCH: int
    PS_REQUANT_DOUBLE: int
    PS_REQUANT_SINGLE: int
    PS_ROUND_TFLITE: int
    PS_ROUND_FLOOR: int
    PS_ROUND_HALF_UP: int
    PS_PATH_AUTO: int
    PS_PATH_REF: int
    PS_PATH_PORTABLE: int
    PS_PATH_AVX2: int
    PS_PATH_AVX512: int
    PS_PATH_DSP: int
    PS_STEP_CONV2D: int
    PS_STEP_DEPTHWISE_CONV2D: int
    PS_STEP_POINTWISE_CONV2D: int
    PS_STEP_FULLY_CONNECTED: int
    PS_STEP_AVG_POOL2D: int
    PS_STEP_MAX_POOL2D: int
    PS_STEP_CONV2D_AVGPOOL: int
    PS_STEP_DEPTHWISE_CONV2D_AVGPOOL: int
    PS_STEP_POINTWISE_CONV2D_AVGPOOL: int
    PS_STEP_SOFTMAX: int
    def ps_status_message(self, status: int) -> Any: ...
    def ps_output_size(self, in_: int, kernel: int, stride: int, dilation: int, pad_lo: int, pad_hi: int) -> int: ...
    def ps_quantize_multiplier(self, real: Any, count: int, multiplier: Any, shift: Any) -> int: ...
    def ps_kernel_path_supported(self, path: int) -> int: ...
    def ps_kernel_path_resolve(self, path: int) -> int: ...
    def ps_run_steps(self, steps: Any, count: int, failed: Any) -> int: ...
    def __getattr__(self, name: str) -> Any: ...

ffi: _FFI
lib: _Lib
