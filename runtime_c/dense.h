/* dense.h: fully connected layer, out = inp @ kernel + bias, applied to the last axis.
 *
 * Accumulation order (reproduces Keras 3 / TensorFlow on CPU bit for bit at batch 1):
 * each output starts at 0.0f, adds inp[i] * kernel[i][j] for i = 0 .. n_in-1 in order
 * with one rounding per step (fmaf), and only then adds the bias. Every path below
 * keeps exactly that order per output value, so all of them give the same bits:
 * kl_dense_forward_naive is the reference, kl_dense_forward the fast version.
 * fmaf is called explicitly: the result never depends on -ffp-contract.
 *
 * KERASLESS_DENSE_FMA chooses the multiply-add: 1 is fmaf (one rounding: TensorFlow's bits),
 * 0 is x * w + s (two roundings; within the parity judge, not bit-exact). The default is 1,
 * except where the compiler targets an ARM core without FMA instructions (Cortex-M0/M0+/M3,
 * an M4 without FPU): there newlib's fmaf computes in double in software, which measured
 * 2.5x (digits) and 3.0x (MNIST) the instructions of x * w + s per predict on the Cortex-M0
 * (docs/embedded.md). 1 gives TensorFlow's bits only where fmaf is exactly rounded (an FMA
 * instruction, glibc): newlib's software fmaf rounds twice, (float)((double)x * y + z), and
 * avr-libc's fma misses the last place on rare sums; both stay within the parity judge.
 * Define it to 0 or 1 before including the header to choose yourself.
 *
 * Speed, without -ffast-math and without -march:
 *  - one row (NAME_predict) keeps the sums of 16 consecutive outputs in registers (then 8, 4,
 *    1) while the loop walks the kernel's column block row by row: per multiply-add one weight
 *    load and one FMA, and each input is loaded once per 16 outputs (about 2.3 instructions
 *    per multiply-add on a Cortex-M4F);
 *  - the kernel stays in Keras's (n_in, n_out) layout; the inner loops run over
 *    fixed-size groups of consecutive outputs, which the compiler turns into vector
 *    FMAs (a loop of constant trip count vectorizes even at GCC's -O2 cost model);
 *  - four rows at a time keep a 4 x 16 block of sums in registers, so each weight is
 *    loaded once for four samples (NAME_predict_batch; a single row reads the kernel
 *    once anyway and is bound by memory bandwidth);
 *  - without FMA instructions fmaf is a libm call per value. On x86-64 with GCC and
 *    glibc, KL_DENSE_CLONES compiles x86-64-v4 (AVX-512) and x86-64-v3 (AVX2 + FMA)
 *    copies next to the baseline one and picks one at load time (target_clones); fmaf is exactly
 *    rounded either way, so both copies give the same bits. Define
 *    KERASLESS_NO_TARGET_CLONES to build the portable function alone.
 *
 * out must not overlap inp.
 */
#ifndef KERASLESS_KERNEL_DENSE
#define KERASLESS_KERNEL_DENSE

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__cplusplus)
#define KL_RESTRICT __restrict__
#else
#define KL_RESTRICT restrict
#endif

#if defined(__GNUC__)
#define KL_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define KL_ALWAYS_INLINE inline
#endif

/* Run-time dispatch only where it is needed (no FMA at compile time) and supported (ifunc). */
/* GCC only: Clang 14 gives the resolver of a static function external linkage, so a header
 * included in two files of one program fails to link; Clang builds take the portable path. */
#if !defined(KERASLESS_NO_TARGET_CLONES) && defined(__x86_64__) && defined(__ELF__) && defined(__GLIBC__) && \
    !defined(__FMA__) && !defined(__clang__) && !defined(__INTEL_COMPILER) && defined(__GNUC__) && __GNUC__ >= 8
#define KL_DENSE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define KL_DENSE_DISPATCH 1
#else
#define KL_DENSE_CLONES
#endif

#ifndef KERASLESS_DENSE_FMA
#if (defined(__arm__) || defined(__thumb__)) && !defined(__aarch64__) && !defined(__ARM_FEATURE_FMA)
#define KERASLESS_DENSE_FMA 0
#else
#define KERASLESS_DENSE_FMA 1
#endif
#endif
#if KERASLESS_DENSE_FMA
#define KL_DENSE_MAC(x, w, s) fmaf(x, w, s)
#else
#define KL_DENSE_MAC(x, w, s) ((x) * (w) + (s))
#endif

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

/* Sums of 8 consecutive outputs s<0..7> += x * w[0..7], one fmaf each (the compiler packs them). */
#define KL_DENSE_DECLARE8(s) float s##0 = 0.0f, s##1 = 0.0f, s##2 = 0.0f, s##3 = 0.0f, \
                                   s##4 = 0.0f, s##5 = 0.0f, s##6 = 0.0f, s##7 = 0.0f
#define KL_DENSE_FMA4(s, x, w)                                                    \
    s##0 = KL_DENSE_MAC(x, KL_LOAD_F32((w) + 0), s##0);                            \
    s##1 = KL_DENSE_MAC(x, KL_LOAD_F32((w) + 1), s##1);                            \
    s##2 = KL_DENSE_MAC(x, KL_LOAD_F32((w) + 2), s##2);                            \
    s##3 = KL_DENSE_MAC(x, KL_LOAD_F32((w) + 3), s##3)
#define KL_DENSE_FMA8(s, x, w)                                                    \
    KL_DENSE_FMA4(s, x, w);                                                       \
    s##4 = KL_DENSE_MAC(x, KL_LOAD_F32((w) + 4), s##4);                            \
    s##5 = KL_DENSE_MAC(x, KL_LOAD_F32((w) + 5), s##5);                            \
    s##6 = KL_DENSE_MAC(x, KL_LOAD_F32((w) + 6), s##6);                            \
    s##7 = KL_DENSE_MAC(x, KL_LOAD_F32((w) + 7), s##7)
#define KL_DENSE_DECLARE4(s) float s##0 = 0.0f, s##1 = 0.0f, s##2 = 0.0f, s##3 = 0.0f
#define KL_DENSE_STORE4(y, s) (y)[0] = s##0; (y)[1] = s##1; (y)[2] = s##2; (y)[3] = s##3
#define KL_DENSE_STORE8(y, s)                                      \
    (y)[0] = s##0; (y)[1] = s##1; (y)[2] = s##2; (y)[3] = s##3; \
    (y)[4] = s##4; (y)[5] = s##5; (y)[6] = s##6; (y)[7] = s##7

/* ---- reference: the documented order, one output row at a time ---------------------------- */

static inline void kl_dense_forward_naive(float *out,          /* (rows, n_out) */
                                          const float *inp,    /* (rows, n_in) */
                                          const float *kernel, /* (n_in, n_out) */
                                          const float *bias,   /* (n_out,), or NULL */
                                          int rows, int n_in, int n_out)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n_in; /* (n_in,) */
        float *y = out + (size_t)r * (size_t)n_out;      /* (n_out,) */
        for (int j = 0; j < n_out; j++) {
            y[j] = 0.0f;
        }
        for (int i = 0; i < n_in; i++) {
            const float xi = x[i];
            const float *w = kernel + (size_t)i * (size_t)n_out; /* (n_out,): row i of the kernel */
            for (int j = 0; j < n_out; j++) {
                y[j] = KL_DENSE_MAC(xi, KL_LOAD_F32(w + j), y[j]);
            }
        }
        if (bias != NULL) {
            for (int j = 0; j < n_out; j++) {
                y[j] = y[j] + KL_LOAD_F32(bias + j);
            }
        }
    }
}

/* ---- one row: the sums of 16, 8, 4, then 1 outputs in registers --------------------------- */

static KL_ALWAYS_INLINE void kl_dense_row(float *KL_RESTRICT y,            /* (n_out,) */
                                          const float *KL_RESTRICT x,      /* (n_in,) */
                                          const float *KL_RESTRICT kernel, /* (n_in, n_out) */
                                          int n_in, int n_out)
{
    const size_t on = (size_t)n_out;
    const float *const end = x + n_in;
    int j = 0;
    for (; j + 16 <= n_out; j += 16) { /* w walks down columns j .. j+15, one kernel row a step */
        KL_DENSE_DECLARE8(a); KL_DENSE_DECLARE8(b);
        const float *KL_RESTRICT w = kernel + j; /* (16,) of row i */
        for (const float *KL_RESTRICT xi = x; xi < end; xi++, w += on) {
            const float v = *xi;
            KL_DENSE_FMA8(a, v, w); KL_DENSE_FMA8(b, v, w + 8);
        }
        KL_DENSE_STORE8(y + j, a); KL_DENSE_STORE8(y + j + 8, b);
    }
    if (j + 8 <= n_out) {
        KL_DENSE_DECLARE8(a);
        const float *KL_RESTRICT w = kernel + j; /* (8,) of row i */
        for (const float *KL_RESTRICT xi = x; xi < end; xi++, w += on) {
            KL_DENSE_FMA8(a, *xi, w);
        }
        KL_DENSE_STORE8(y + j, a);
        j += 8;
    }
    if (j + 4 <= n_out) {
        KL_DENSE_DECLARE4(a);
        const float *KL_RESTRICT w = kernel + j; /* (4,) of row i */
        for (const float *KL_RESTRICT xi = x; xi < end; xi++, w += on) {
            KL_DENSE_FMA4(a, *xi, w);
        }
        KL_DENSE_STORE4(y + j, a);
    }
    for (int col = n_out - n_out % 4; col < n_out; col++) { /* the last n_out % 4 outputs, one at a time */
        float s = 0.0f;
        const float *KL_RESTRICT w = kernel + col;
        for (const float *KL_RESTRICT xi = x; xi < end; xi++, w += on) {
            s = KL_DENSE_MAC(*xi, KL_LOAD_F32(w), s);
        }
        y[col] = s;
    }
}

/* ---- four rows: a 4 x 16 (then 4 x 8) block of sums in registers ---------------------------- */

static KL_ALWAYS_INLINE void kl_dense_rows4(float *KL_RESTRICT y,            /* (4, n_out) */
                                            const float *KL_RESTRICT x,      /* (4, n_in) */
                                            const float *KL_RESTRICT kernel, /* (n_in, n_out) */
                                            int n_in, int n_out)
{
    const size_t in = (size_t)n_in, on = (size_t)n_out;
    int j = 0;
    for (; j + 16 <= n_out; j += 16) { /* 4 rows x 16 outputs: each weight loaded once for 4 rows */
        KL_DENSE_DECLARE8(a); KL_DENSE_DECLARE8(b); KL_DENSE_DECLARE8(c); KL_DENSE_DECLARE8(d);
        KL_DENSE_DECLARE8(e); KL_DENSE_DECLARE8(f); KL_DENSE_DECLARE8(g); KL_DENSE_DECLARE8(h);
        for (int i = 0; i < n_in; i++) {
            const float *KL_RESTRICT w = kernel + (size_t)i * on + (size_t)j; /* (16,) */
            const float x0 = x[i], x1 = x[in + (size_t)i], x2 = x[2 * in + (size_t)i], x3 = x[3 * in + (size_t)i];
            KL_DENSE_FMA8(a, x0, w); KL_DENSE_FMA8(b, x0, w + 8);
            KL_DENSE_FMA8(c, x1, w); KL_DENSE_FMA8(d, x1, w + 8);
            KL_DENSE_FMA8(e, x2, w); KL_DENSE_FMA8(f, x2, w + 8);
            KL_DENSE_FMA8(g, x3, w); KL_DENSE_FMA8(h, x3, w + 8);
        }
        KL_DENSE_STORE8(y + j, a); KL_DENSE_STORE8(y + j + 8, b);
        KL_DENSE_STORE8(y + on + j, c); KL_DENSE_STORE8(y + on + j + 8, d);
        KL_DENSE_STORE8(y + 2 * on + j, e); KL_DENSE_STORE8(y + 2 * on + j + 8, f);
        KL_DENSE_STORE8(y + 3 * on + j, g); KL_DENSE_STORE8(y + 3 * on + j + 8, h);
    }
    for (; j + 8 <= n_out; j += 8) {
        KL_DENSE_DECLARE8(a); KL_DENSE_DECLARE8(b); KL_DENSE_DECLARE8(c); KL_DENSE_DECLARE8(d);
        for (int i = 0; i < n_in; i++) {
            const float *KL_RESTRICT w = kernel + (size_t)i * on + (size_t)j; /* (8,) */
            KL_DENSE_FMA8(a, x[i], w);
            KL_DENSE_FMA8(b, x[in + (size_t)i], w);
            KL_DENSE_FMA8(c, x[2 * in + (size_t)i], w);
            KL_DENSE_FMA8(d, x[3 * in + (size_t)i], w);
        }
        KL_DENSE_STORE8(y + j, a); KL_DENSE_STORE8(y + on + j, b);
        KL_DENSE_STORE8(y + 2 * on + j, c); KL_DENSE_STORE8(y + 3 * on + j, d);
    }
    if (j < n_out) { /* the last n_out % 8 outputs: sums in y, row by row */
        for (int r = 0; r < 4; r++) {
            float *KL_RESTRICT yr = y + (size_t)r * on;               /* (n_out,) */
            const float *KL_RESTRICT xr = x + (size_t)r * in;         /* (n_in,) */
            for (int t = j; t < n_out; t++) {
                yr[t] = 0.0f;
            }
            for (int i = 0; i < n_in; i++) {
                const float xi = xr[i];
                const float *KL_RESTRICT w = kernel + (size_t)i * on; /* (n_out,) */
                for (int t = j; t < n_out; t++) {
                    yr[t] = KL_DENSE_MAC(xi, KL_LOAD_F32(w + t), yr[t]);
                }
            }
        }
    }
}

/* ---- the kernel the header calls -------------------------------------------------------------- */

KL_DENSE_CLONES
static inline void kl_dense_forward_blocked(float *KL_RESTRICT out,          /* (rows, n_out) */
                                    const float *KL_RESTRICT inp,    /* (rows, n_in) */
                                    const float *KL_RESTRICT kernel, /* (n_in, n_out), row-major as Keras stores it */
                                    const float *KL_RESTRICT bias,   /* (n_out,), or NULL for use_bias=False */
                                    int rows, int n_in, int n_out)
{
    const size_t in = (size_t)n_in, on = (size_t)n_out;
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        kl_dense_rows4(out + (size_t)r * on, inp + (size_t)r * in, kernel, n_in, n_out);
    }
    for (; r < rows; r++) {
        kl_dense_row(out + (size_t)r * on, inp + (size_t)r * in, kernel, n_in, n_out);
    }
    if (bias != NULL) {
        for (r = 0; r < rows; r++) {
            float *KL_RESTRICT y = out + (size_t)r * on; /* (n_out,) */
            for (int j = 0; j < n_out; j++) {
                y[j] = y[j] + KL_LOAD_F32(bias + j);
            }
        }
    }
}

/* One row (NAME_predict): kept apart from the blocked kernel, so firmware that never predicts a
 * batch carries no four-row code. */
KL_DENSE_CLONES
static inline void kl_dense_forward_row(float *KL_RESTRICT out,          /* (n_out,) */
                                        const float *KL_RESTRICT inp,    /* (n_in,) */
                                        const float *KL_RESTRICT kernel, /* (n_in, n_out) */
                                        const float *KL_RESTRICT bias,   /* (n_out,), or NULL */
                                        int n_in, int n_out)
{
    kl_dense_row(out, inp, kernel, n_in, n_out);
    if (bias != NULL) {
        for (int j = 0; j < n_out; j++) {
            out[j] = out[j] + KL_LOAD_F32(bias + j);
        }
    }
}

/* ---- smaller weights (export-model --weights float16|int8) ------------------------------------ */

#ifndef KL_LOAD_I8
#define KL_LOAD_I8(p) (*(p))
#define KL_LOAD_U16(p) (*(p))
#endif

/* An IEEE binary16 value (its bits in the low 16 of h) as the float32 it equals, without _Float16:
 * normal values move their exponent and mantissa into float32's fields, subnormals are
 * mantissa * 2^-24 (exact), and infinities and NaNs keep their mantissa bits. */
static inline float kl_half_to_float(unsigned int h)
{
    const unsigned int exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    float value;
    if (exponent == 0u) {
        value = (float)mantissa * 5.9604644775390625e-8f; /* 2^-24 */
    } else {
        const uint32_t bits = ((uint32_t)(exponent == 31u ? 255u : exponent + 112u) << 23) | ((uint32_t)mantissa << 13);
        memcpy(&value, &bits, sizeof value);
    }
    return (h & 0x8000u) ? -value : value;
}

/* Dense with an int8 kernel: weight (float)q[i][j] * scale[j] (one float32 rounding, as runtime_py
 * decodes it), then the documented order, so the sums are kl_dense_forward_naive's on the decoded
 * kernel, bit for bit. */
static inline void kl_dense_int8_forward(float *out,                /* (rows, n_out) */
                                         const float *inp,          /* (rows, n_in) */
                                         const signed char *kernel, /* (n_in, n_out): q in -127 .. 127 */
                                         const float *scale,        /* (n_out,) */
                                         const float *bias,         /* (n_out,), or NULL */
                                         int rows, int n_in, int n_out)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n_in; /* (n_in,) */
        float *y = out + (size_t)r * (size_t)n_out;      /* (n_out,) */
        for (int j = 0; j < n_out; j++) {
            y[j] = 0.0f;
        }
        for (int i = 0; i < n_in; i++) {
            const float xi = x[i];
            const signed char *q = kernel + (size_t)i * (size_t)n_out; /* (n_out,): row i */
            for (int j = 0; j < n_out; j++) {
                y[j] = KL_DENSE_MAC(xi, (float)KL_LOAD_I8(q + j) * KL_LOAD_F32(scale + j), y[j]);
            }
        }
        if (bias != NULL) {
            for (int j = 0; j < n_out; j++) {
                y[j] = y[j] + KL_LOAD_F32(bias + j);
            }
        }
    }
}

/* Dense with a float16 kernel (IEEE binary16 bits): the same order on the decoded weights. */
static inline void kl_dense_float16_forward(float *out,                   /* (rows, n_out) */
                                            const float *inp,             /* (rows, n_in) */
                                            const unsigned short *kernel, /* (n_in, n_out): binary16 bits */
                                            const float *bias,            /* (n_out,), or NULL */
                                            int rows, int n_in, int n_out)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n_in; /* (n_in,) */
        float *y = out + (size_t)r * (size_t)n_out;      /* (n_out,) */
        for (int j = 0; j < n_out; j++) {
            y[j] = 0.0f;
        }
        for (int i = 0; i < n_in; i++) {
            const float xi = x[i];
            const unsigned short *h = kernel + (size_t)i * (size_t)n_out; /* (n_out,): row i */
            for (int j = 0; j < n_out; j++) {
                y[j] = KL_DENSE_MAC(xi, kl_half_to_float(KL_LOAD_U16(h + j)), y[j]);
            }
        }
        if (bias != NULL) {
            for (int j = 0; j < n_out; j++) {
                y[j] = y[j] + KL_LOAD_F32(bias + j);
            }
        }
    }
}

/* Below KL_DENSE_SMALL multiply-adds a dispatched clone costs more than the work: run the
 * plain loop inline (a dispatched clone cannot be inlined). */
#define KL_DENSE_SMALL 256

static inline void kl_dense_forward(float *out,          /* (rows, n_out) */
                                    const float *inp,    /* (rows, n_in) */
                                    const float *kernel, /* (n_in, n_out), row-major as Keras stores it */
                                    const float *bias,   /* (n_out,), or NULL for use_bias=False */
                                    int rows, int n_in, int n_out)
{
#if defined(KL_DENSE_DISPATCH)
    if ((long)rows * (long)n_in * (long)n_out < KL_DENSE_SMALL) {
        kl_dense_forward_naive(out, inp, kernel, bias, rows, n_in, n_out);
        return;
    }
#endif
    if (rows == 1) {
        kl_dense_forward_row(out, inp, kernel, bias, n_in, n_out);
    } else {
        kl_dense_forward_blocked(out, inp, kernel, bias, rows, n_in, n_out);
    }
}

#endif /* KERASLESS_KERNEL_DENSE */
