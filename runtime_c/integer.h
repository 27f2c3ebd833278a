/* integer.h: the int8 kernels of integer-only models (export-model --integer; docs/format.md,
 * "Integer models"). No float, no division but softmax's 32-bit one: TensorFlow Lite's int8
 * requantization (single rounding, as LiteRT's reference kernels are built), one 32x32->64-bit
 * multiply per output value. Mirrors runtime_py/integer_kernels.py line for line.
 * Constant arrays are read through KL_INT8_READ / KL_INT32_READ (program memory on AVR, storage.h).
 */
#ifndef KERASLESS_KERNEL_INTEGER
#define KERASLESS_KERNEL_INTEGER

#include <stdint.h>

/* storage.h (pasted before this file in a header) says where the constant arrays live: on AVR in
 * program memory, read with pgm_read_*; elsewhere plain reads. */
#if defined(KERASLESS_PROGMEM) && KERASLESS_PROGMEM
#ifndef KL_INT8_READ
#define KL_INT8_READ(p) ((int8_t)pgm_read_byte(p))
#endif
#ifndef KL_INT32_READ
#define KL_INT32_READ(p) ((int32_t)pgm_read_dword(p))
#endif
#endif
#ifndef KL_INT8_READ
#define KL_INT8_READ(p) (*(p))
#endif
#ifndef KL_INT32_READ
#define KL_INT32_READ(p) (*(p))
#endif

/* TensorFlow Lite's MultiplyByQuantizedMultiplier with single rounding: acc * multiplier * 2**(shift - 31)
 * rounded to nearest, ties toward +infinity; shift in [-31, 30]. One 32x32->64-bit product. */
static inline int32_t kl_requantize(int32_t acc, int32_t multiplier, int shift)
{
    const int total = 31 - shift;
    const int64_t value = (int64_t)acc * (int64_t)multiplier + ((int64_t)1 << (total - 1));
    /* floor(value / 2**total) without shifting a negative value (implementation-defined in C) */
    return (int32_t)(value >= 0 ? value >> total : ~(~value >> total));
}

/* out[j] = clamp(requantize(bias[j] + sum_i inp[i] * kernel[i][j]) + zp_out, low, high) for one row.
 * The header stores the kernel transposed, kernel_t[j][i] = kernel[i][j], so each sum walks one row. */
static inline void kl_dense_int8_forward(int8_t *out,               /* (units) */
                                         const int8_t *inp,         /* (n) */
                                         const int8_t *kernel_t,    /* (units, n) */
                                         const int32_t *bias,       /* (units), input zero point folded in */
                                         const int32_t *multiplier, /* (units), Q31 */
                                         const int8_t *shift,       /* (units) */
                                         int output_zero_point, int low, int high, int n, int units)
{
    for (int j = 0; j < units; j++) {
        const int8_t *w = kernel_t + (long)j * n;
        int32_t acc = KL_INT32_READ(bias + j);
        int i = 0;
        for (; i + 4 <= n; i += 4) { /* four at a time: immediate offsets, one loop test (the sums are exact) */
            acc += (int32_t)inp[i] * (int32_t)KL_INT8_READ(w + i) + (int32_t)inp[i + 1] * (int32_t)KL_INT8_READ(w + i + 1)
                   + (int32_t)inp[i + 2] * (int32_t)KL_INT8_READ(w + i + 2)
                   + (int32_t)inp[i + 3] * (int32_t)KL_INT8_READ(w + i + 3);
        }
        for (; i < n; i++) {
            acc += (int32_t)inp[i] * (int32_t)KL_INT8_READ(w + i);
        }
        const int32_t value =
            kl_requantize(acc, KL_INT32_READ(multiplier + j), KL_INT8_READ(shift + j)) + output_zero_point;
        out[j] = (int8_t)(value < low ? low : (value > high ? high : value));
    }
}

/* out[k] = table[inp[k] + 128]: a smooth activation tabulated at export. out == inp is allowed. */
static inline void kl_lut_int8_forward(int8_t *out, const int8_t *inp, const int8_t *table /* (256) */, int count)
{
    for (int k = 0; k < count; k++) {
        out[k] = KL_INT8_READ(table + (inp[k] + 128));
    }
}

/* Integer softmax of one row: e = exp_table[max - q] (Q15), out = round(256 * e / sum e) - 128. */
static inline void kl_softmax_int8_forward(int8_t *out, const int8_t *inp, const int32_t *exp_table /* (256) */,
                                           int n)
{
    int top = inp[0];
    for (int i = 1; i < n; i++) {
        top = inp[i] > top ? inp[i] : top;
    }
    int32_t total = 0;
    for (int i = 0; i < n; i++) {
        total += KL_INT32_READ(exp_table + (top - inp[i]));
    }
    for (int i = 0; i < n; i++) {
        const int32_t value = (KL_INT32_READ(exp_table + (top - inp[i])) * 256 + total / 2) / total - 128;
        out[i] = (int8_t)(value > 127 ? 127 : value);
    }
}

#endif /* KERASLESS_KERNEL_INTEGER */
