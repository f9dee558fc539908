"""The torch-side counter's cost rules, by aten op (overload packet names): which ops are free, which are
element-wise (and their category), which multiply-add, and the multiply-adds of each matmul-family op.

A new aten op gets its rule here, and only here: add its name to FREE_OPS (a view, an alias, an allocation),
to ELEMENTWISE_OPS with its category (reads inputs, writes outputs, 0 madds), or to MATMUL_OPS with its
multiply-adds in `_madds`. An op in none of them is reported as unsupported, never counted as zero.
Pure Python: tensors are only read for their shapes.
"""

from __future__ import annotations

import math

# ---------------------------------------------------------------- op rules (aten overload packet names)
# Free: views, aliases, metadata and allocation (nothing read or written that another op does not count).
FREE_OPS = frozenset({
    "view", "_unsafe_view", "reshape", "_reshape_alias", "alias", "t", "transpose", "permute", "expand",
    "expand_as", "unsqueeze", "squeeze", "flatten", "unflatten", "slice", "select", "narrow", "as_strided",
    "detach", "lift_fresh", "view_as", "unfold", "diagonal", "movedim", "dropout", "feature_dropout",
    "alpha_dropout", "empty", "empty_like", "empty_strided", "zeros", "zeros_like", "ones", "ones_like", "full",
    "full_like", "new_empty", "new_zeros", "new_ones", "new_full", "arange", "scalar_tensor", "sym_size",
    "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size", "_local_scalar_dense", "device",
    "resize_", "set_", "_has_compatible_shallow_copy_type", "is_contiguous", "stride", "size", "dim",
})
# Element-wise, norms, reductions, copies: read inputs, write outputs, 0 madds. Value: category.
ELEMENTWISE_OPS = {
    **dict.fromkeys((
        "add", "sub", "rsub", "mul", "div", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "pow", "reciprocal",
        "maximum", "minimum", "where", "clamp", "clamp_min", "clamp_max", "sign", "floor", "ceil", "round",
        "relu", "relu6", "hardtanh", "hardswish", "hardsigmoid", "sigmoid", "silu", "tanh", "gelu", "mish",
        "leaky_relu", "elu", "selu", "celu", "prelu", "_prelu_kernel", "softplus", "log_sigmoid",
        "_softmax", "softmax", "_safe_softmax", "_log_softmax", "log_softmax", "erf",
        "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
        "_native_batch_norm_legit_functional", "batch_norm", "native_layer_norm", "native_group_norm",
        "layer_norm", "group_norm", "instance_norm", "addcmul", "addcdiv", "lerp", "masked_fill",
        "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not", "bitwise_and",
        "fill", "zero", "var", "var_mean", "std", "std_mean", "linalg_vector_norm", "norm",
        "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "log1p", "expm1", "log2", "log10",
        "exp2", "square", "frac", "trunc", "fmod", "remainder", "floor_divide", "bitwise_not", "bitwise_or",
        "bitwise_xor", "logical_xor", "cumsum", "cumprod", "isnan", "isinf", "nan_to_num",
    ), "element-wise"),
    **dict.fromkeys((
        "max_pool2d_with_indices", "max_pool2d", "max_pool1d", "max_pool3d_with_indices", "avg_pool2d",
        "avg_pool1d", "avg_pool3d", "_adaptive_avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
        "_adaptive_avg_pool3d", "adaptive_max_pool1d", "mean", "sum", "amax", "amin", "max", "min", "prod",
        "upsample_nearest2d", "upsample_bilinear2d", "_upsample_nearest_exact2d", "_upsample_bilinear2d_aa",
    ), "pooling"),
    **dict.fromkeys(("cat", "stack", "split", "split_with_sizes", "chunk", "unbind", "unsafe_split",
                     "unsafe_split_with_sizes", "unsafe_chunk", "tensor_split"), "concat/split"),
    **dict.fromkeys(("channel_shuffle", "native_channel_shuffle", "pixel_shuffle", "pixel_unshuffle"),
                    "shuffle"),
    **dict.fromkeys(("clone", "contiguous", "copy", "_to_copy", "to", "constant_pad_nd", "reflection_pad2d",
                     "replication_pad2d", "roll", "flip", "repeat", "index", "index_select", "gather",
                     "_unsafe_index", "index_put"), "other"),
}
# Ops whose extra outputs are bookkeeping, not feature maps (indices, saved statistics): count output 0 only.
FIRST_OUTPUT_ONLY = frozenset({
    "max_pool2d_with_indices", "max_pool3d_with_indices", "adaptive_max_pool2d", "native_batch_norm",
    "_native_batch_norm_legit", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit_functional",
    "native_layer_norm", "native_group_norm", "max", "min", "var_mean", "std_mean", *"""
    _scaled_dot_product_flash_attention_for_cpu _scaled_dot_product_flash_attention
    _scaled_dot_product_efficient_attention _scaled_dot_product_cudnn_attention""".split(),
})
# Fused attention: softmax(Q K^T) V in one op (no attention matrix in memory); reads Q, K, V (and a mask), writes
# the output. Multiply-adds: Q K^T is B·H·L·S·E, the weights times V is B·H·L·S·Ev (see _madds).
ATTENTION_OPS = frozenset({"scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu",
                           "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
                           "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_attention_math"})
MATMUL_OPS = frozenset({"convolution", "_convolution", "convolution_overrideable", "mkldnn_convolution",
                        "mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "dot", "mv", "addmv", "_mkldnn_linear",
                        *ATTENTION_OPS})
# aten op names -> lwbench's kind names, for rows of ops called directly (not through a module): one
# vocabulary with the analytic counter's kinds (batchnorm, not native_batch_norm)
ATEN_KINDS = {
    **dict.fromkeys(("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
                     "_native_batch_norm_legit_functional", "batch_norm"), "batchnorm"),
    **dict.fromkeys(("native_layer_norm", "layer_norm"), "layernorm"),
    **dict.fromkeys(("native_group_norm", "group_norm"), "groupnorm"),
    **dict.fromkeys(("convolution", "_convolution", "convolution_overrideable", "mkldnn_convolution"), "conv"),
    **dict.fromkeys(("addmm", "linear", "_mkldnn_linear"), "linear"),
    **dict.fromkeys(("mm", "bmm", "baddbmm", "matmul"), "matmul"),
    **dict.fromkeys(ATTENTION_OPS, "attention"),
    **dict.fromkeys(("max_pool2d_with_indices", "max_pool2d"), "maxpool"), "avg_pool2d": "avgpool",
    **dict.fromkeys(("_adaptive_avg_pool2d", "adaptive_avg_pool2d"), "adaptive_avgpool"),
    "cat": "concat", **dict.fromkeys(("split", "split_with_sizes", "chunk", "unsafe_split"), "split"),
    **dict.fromkeys(("channel_shuffle", "native_channel_shuffle"), "shuffle"),
    "hardtanh": "relu6", "silu": "swish", "_softmax": "softmax", "_log_softmax": "log_softmax",
}

# torch module classes lwbench has no kind for -> (kind, category or None to take the ops' category); the
# classes lwbench's own kinds build come from the op registry (OpDef.module), see known_modules()
TORCH_ONLY_MODULES = {
    "Conv1d": ("conv1d", None), "Conv3d": ("conv3d", None), "ConvTranspose2d": ("conv_transpose2d", None),
    "BatchNorm1d": ("batchnorm", "element-wise"), "BatchNorm3d": ("batchnorm", "element-wise"),
    "LayerNorm": ("layernorm", "element-wise"), "GroupNorm": ("groupnorm", "element-wise"),
    "GELU": ("gelu", "element-wise"), "LeakyReLU": ("leaky_relu", "element-wise"), "ELU": ("elu", "element-wise"),
    "Mish": ("mish", "element-wise"), "PReLU": ("prelu", "element-wise"), "Softmax": ("softmax", "element-wise"),
    "AdaptiveMaxPool2d": ("adaptive_maxpool", "pooling"), "Dropout2d": ("dropout", "other"),
}


def module_kind(cls: type) -> tuple[str, str | None]:
    """(kind, category) of a module class: its own entry, else the nearest known base class (timm's
    Conv2dSame is a Conv2d: kind conv2d), else the class name."""
    for c in cls.__mro__:
        entry = KNOWN_MODULES.get(c.__name__)
        if entry and (c is cls or c.__module__.startswith(("torch.", "lwbench."))):
            return entry
    return cls.__name__, None


def known_modules() -> dict[str, tuple[str, str | None]]:
    """Module class name -> (kind, category): the registry's classes (lwbench.ops.module_table) over
    TORCH_ONLY_MODULES."""
    from lwbench.ops import module_table

    return {**TORCH_ONLY_MODULES, **module_table()}


KNOWN_MODULES = known_modules()
ROOT = "<root>"


def _numel(t) -> int:
    return math.prod(t.shape)


def _base(func) -> str:
    """aten.relu_.default -> 'relu'; aten.convolution.default -> 'convolution'."""
    name = func.overloadpacket.__name__ if hasattr(func, "overloadpacket") else str(func)
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return name


def _madds(op: str, args, out) -> int:
    """Multiply-adds of one matmul-family aten op, from its argument and output shapes."""
    if op in ("convolution", "_convolution", "convolution_overrideable", "mkldnn_convolution"):
        x, w = args[0], args[1]
        transposed = bool(args[6]) if len(args) > 6 else False
        if transposed:  # weight (Cin, Cout/g, k...): every input element meets Cout/g·k weights
            return _numel(x) * math.prod(w.shape[1:])
        return _numel(out) * math.prod(w.shape[1:])
    if op in ("mm", "addmm", "matmul", "bmm", "baddbmm", "linear", "_mkldnn_linear"):
        a, b = (args[1], args[2]) if op in ("addmm", "baddbmm") else (args[0], args[1])
        if op in ("linear", "_mkldnn_linear"):  # (.., k) x (n, k)^T
            return _numel(a) * b.shape[0]
        return _numel(out) * a.shape[-1]
    if op in ("dot",):
        return _numel(args[0])
    if op in ATTENTION_OPS:  # q (.., L, E), k (.., S, E), v (.., S, Ev)
        q, k, v = args[0], args[1], args[2]
        return math.prod(q.shape[:-1]) * k.shape[-2] * (q.shape[-1] + v.shape[-1])
    if op in ("mv", "addmv"):
        m = args[1] if op == "addmv" else args[0]
        return _numel(m)
    return 0


def _conv_category(args) -> str:
    x, w = args[0], args[1]
    groups = int(args[8]) if len(args) > 8 else 1
    if groups > 1 and groups == x.shape[1]:
        return "depthwise"
    if all(k == 1 for k in w.shape[2:]):
        return "pointwise"
    return "conv"
