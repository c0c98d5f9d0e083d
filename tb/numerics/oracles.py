"""gfloat descriptions of Tatami's formats, for use as an independent oracle."""

from gfloat import Domain, FormatInfo
from gfloat.formats import format_info_bfloat16, format_info_binary32

from tatami.sim.numerics import BF16, FP32, FloatFormat


def gfloat_format(fmt: FloatFormat) -> FormatInfo:
    """The gfloat ``FormatInfo`` with the same value set as ``fmt``."""
    if fmt == FP32:
        return format_info_binary32
    if fmt == BF16:
        return format_info_bfloat16
    assert not fmt.ieee_specials, fmt
    return FormatInfo(
        name=fmt.name,
        k=fmt.width,
        precision=fmt.precision,
        bias=fmt.bias,
        is_signed=fmt.signed,
        domain=Domain.Finite,
        has_nz=fmt.signed,
        num_high_nans=0,
        has_subnormals=True,
        is_twos_complement=False,
    )
