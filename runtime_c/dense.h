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
 * KERASLESS_DENSE_BLOCKS chooses the one-row loop: 1 keeps blocks of 16, 8 and 4 sums in
 * registers (below); 0 computes one output at a time. The default is 1, except on AVR, whose
 * 32 8-bit registers hold no block of float sums: there the blocks only spill, and cost 2.4 KiB
 * of program memory for nothing (docs/embedded.md). The order of each output's sum is the same
 * either way, so both give the same bits.
 *
 * Speed, without -ffast-math and without -march:
 *  - one row (NAME_predict) keeps the sums of 16 consecutive outputs in registers (then 8, 4,
 *    1) while the loop walks the kernel's column block row by row: per multiply-add one weight
 *    load and one FMA, and each input is loaded once per 16 outputs (about 2.3 instructions
 *    per multiply-add on a Cortex-M4F). The float16 and int8 kernels (export-model --weights)
 *    run the same loop, kl_dense_row_stored, with the weight's decoding inlined in it
 *    (kl_dense_weight): float16 about 3 instructions per multiply-add on an M-profile FPU
 *    (VCVTB/VCVTT), int8 about 5.5 (load, move to the FPU, convert, scale, FMA; 8-wide blocks,
 *    whose scales stay in registers too);
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

#ifndef KERASLESS_DENSE_BLOCKS
#if defined(__AVR__)
#define KERASLESS_DENSE_BLOCKS 0
#else
#define KERASLESS_DENSE_BLOCKS 1
#endif
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

/* ---- one row, any storage: the sums of 16, 8, 4, then 1 outputs in registers ------------------- */

/* How a kernel is stored (export-model --weights) and how one weight is decoded to the float32 the
 * sums use: float32 as it is; float16 exactly (every binary16 value is a float32); int8 as
 * (float)q * scale[column], one float32 rounding, as runtime_py decodes it. */
#define KL_STORED_F32 0
#define KL_STORED_F16 1
#define KL_STORED_I8 2
#define KL_STORED_BYTES(storage) ((storage) == KL_STORED_F32 ? 4u : (storage) == KL_STORED_F16 ? 2u : 1u)

/* binary16 -> float32 with the FPU's conversion where the core has one: every M-profile FPU
 * (FPv4-SP on the M4F, FPv5 on the M7, ...) converts exactly with VCVTB / VCVTT (IEEE format: FPSCR.AHP
 * is 0 unless the program sets it). Two neighbouring weights are read as one 32-bit word (ARMv7-M
 * loads it unaligned) and converted from its bottom and top halves: per two multiply-adds one load,
 * one move to the FPU and two conversions. Elsewhere the portable decoding, kl_half_to_float. */
#if defined(__ARM_FP) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && defined(__GNUC__) && \
    !defined(__ARM_BIG_ENDIAN) && !defined(KERASLESS_PORTABLE_HALF)
#define KL_HALF_PAIRS 1
static KL_ALWAYS_INLINE float kl_half_of_word(const unsigned short *p, int top) /* p: 2 halves, in bounds */
{
    float word, out;
    memcpy(&word, p, sizeof word);
    if (top) {
        __asm__("vcvtt.f32.f16 %0, %1" : "=t"(out) : "t"(word));
    } else {
        __asm__("vcvtb.f32.f16 %0, %1" : "=t"(out) : "t"(word));
    }
    return out;
}
#endif

/* Weight m of the kernel row starting at w (the scale c: int8 only). pair: weight m ^ 1 exists too
 * (inside a block of columns), so float16 may read both at once. */
static KL_ALWAYS_INLINE float kl_dense_weight(const unsigned char *KL_RESTRICT w, int m, int storage, float c,
                                              int pair)
{
    if (storage == KL_STORED_I8) {
        return (float)KL_LOAD_I8((const signed char *)w + m) * c;
    }
    if (storage == KL_STORED_F16) {
        const unsigned short *h = (const unsigned short *)(const void *)w;
#if defined(KL_HALF_PAIRS)
        if (pair) {
            return kl_half_of_word(h + (m & ~1), m & 1);
        }
#endif
        (void)pair;
        return kl_half_to_float(KL_LOAD_U16(h + m));
    }
    return KL_LOAD_F32((const float *)(const void *)w + m);
}

/* The scale of column j (int8), or nothing to read. */
#define KL_DENSE_SCALE(scale, j, storage) ((storage) == KL_STORED_I8 ? KL_LOAD_F32((scale) + (j)) : 1.0f)

/* Sums of consecutive outputs s<m> += x * weight m, one KL_DENSE_MAC each (c<m>: the columns' scales). */
#define KL_DENSE_DECLARE4(s) float s##0 = 0.0f, s##1 = 0.0f, s##2 = 0.0f, s##3 = 0.0f
#define KL_DENSE_DECLARE8(s) KL_DENSE_DECLARE4(s), s##4 = 0.0f, s##5 = 0.0f, s##6 = 0.0f, s##7 = 0.0f
#define KL_DENSE_SCALES4(c, scale, j, storage)                                                      \
    const float c##0 = KL_DENSE_SCALE(scale, (j) + 0, storage), c##1 = KL_DENSE_SCALE(scale, (j) + 1, storage), \
                c##2 = KL_DENSE_SCALE(scale, (j) + 2, storage), c##3 = KL_DENSE_SCALE(scale, (j) + 3, storage)
#define KL_DENSE_SCALES8(c, scale, j, storage)                                                      \
    KL_DENSE_SCALES4(c, scale, j, storage), c##4 = KL_DENSE_SCALE(scale, (j) + 4, storage),         \
    c##5 = KL_DENSE_SCALE(scale, (j) + 5, storage), c##6 = KL_DENSE_SCALE(scale, (j) + 6, storage), \
    c##7 = KL_DENSE_SCALE(scale, (j) + 7, storage)
#define KL_DENSE_STEP(s, c, m, x, w, storage) s##m = KL_DENSE_MAC(x, kl_dense_weight(w, m, storage, c##m, 1), s##m)
#define KL_DENSE_STEP4(s, c, x, w, storage)                                           \
    KL_DENSE_STEP(s, c, 0, x, w, storage); KL_DENSE_STEP(s, c, 1, x, w, storage);     \
    KL_DENSE_STEP(s, c, 2, x, w, storage); KL_DENSE_STEP(s, c, 3, x, w, storage)
#define KL_DENSE_STEP8(s, c, x, w, storage)                                           \
    KL_DENSE_STEP4(s, c, x, w, storage);                                              \
    KL_DENSE_STEP(s, c, 4, x, w, storage); KL_DENSE_STEP(s, c, 5, x, w, storage);     \
    KL_DENSE_STEP(s, c, 6, x, w, storage); KL_DENSE_STEP(s, c, 7, x, w, storage)
#define KL_DENSE_STORE4(y, s) (y)[0] = s##0; (y)[1] = s##1; (y)[2] = s##2; (y)[3] = s##3
#define KL_DENSE_STORE8(y, s)                                      \
    (y)[0] = s##0; (y)[1] = s##1; (y)[2] = s##2; (y)[3] = s##3; \
    (y)[4] = s##4; (y)[5] = s##5; (y)[6] = s##6; (y)[7] = s##7

/* y = x @ kernel for one row, the kernel stored as `storage` (a constant: each caller gets its own
 * copy of the loop, with the decoding inlined). A pointer walks down a block of columns, one kernel
 * row per step, while the block's sums (and, for int8, its scales) stay in registers: per
 * multiply-add one weight load, its decoding and one multiply-add; each input is loaded once per
 * block. int8 blocks are 8 wide (8 sums and 8 scales fill half of the M4F's 32 float registers),
 * the others 16. */
static KL_ALWAYS_INLINE void kl_dense_row_stored(float *KL_RESTRICT y,                    /* (n_out,) */
                                                 const float *KL_RESTRICT x,              /* (n_in,) */
                                                 const unsigned char *KL_RESTRICT kernel, /* (n_in, n_out) */
                                                 int storage,
                                                 const float *KL_RESTRICT scale, /* (n_out,): int8 */
                                                 int n_in, int n_out)
{
    const size_t bytes = KL_STORED_BYTES(storage), step = (size_t)n_out * bytes; /* one kernel row */
    const float *const end = x + n_in;
#if KERASLESS_DENSE_BLOCKS
    int j = 0;
    if (storage != KL_STORED_I8) {
        for (; j + 16 <= n_out; j += 16) { /* w walks down columns j .. j+15 */
            KL_DENSE_DECLARE8(a); KL_DENSE_DECLARE8(b);
            KL_DENSE_SCALES8(c, scale, j, storage); KL_DENSE_SCALES8(d, scale, j + 8, storage);
            const unsigned char *KL_RESTRICT w = kernel + (size_t)j * bytes;
            for (const float *KL_RESTRICT xi = x; xi < end; xi++, w += step) {
                const float v = *xi;
                KL_DENSE_STEP8(a, c, v, w, storage); KL_DENSE_STEP8(b, d, v, w + 8 * bytes, storage);
            }
            KL_DENSE_STORE8(y + j, a); KL_DENSE_STORE8(y + j + 8, b);
        }
    }
    for (; j + 8 <= n_out; j += 8) {
        KL_DENSE_DECLARE8(a);
        KL_DENSE_SCALES8(c, scale, j, storage);
        const unsigned char *KL_RESTRICT w = kernel + (size_t)j * bytes;
        for (const float *KL_RESTRICT xi = x; xi < end; xi++, w += step) {
            KL_DENSE_STEP8(a, c, *xi, w, storage);
        }
        KL_DENSE_STORE8(y + j, a);
    }
    if (j + 4 <= n_out) {
        KL_DENSE_DECLARE4(a);
        KL_DENSE_SCALES4(c, scale, j, storage);
        const unsigned char *KL_RESTRICT w = kernel + (size_t)j * bytes;
        for (const float *KL_RESTRICT xi = x; xi < end; xi++, w += step) {
            KL_DENSE_STEP4(a, c, *xi, w, storage);
        }
        KL_DENSE_STORE4(y + j, a);
    }
    const int first = n_out - n_out % 4; /* the blocks above covered the outputs before it */
#else
    const int first = 0;
#endif
    for (int col = first; col < n_out; col++) { /* the last n_out % 4 outputs (every one without blocks) */
        float s0 = 0.0f;
        const float c0 = KL_DENSE_SCALE(scale, col, storage);
        const unsigned char *KL_RESTRICT w = kernel + (size_t)col * bytes;
        for (const float *KL_RESTRICT xi = x; xi < end; xi++, w += step) {
            s0 = KL_DENSE_MAC(*xi, kl_dense_weight(w, 0, storage, c0, 0), s0);
        }
        y[col] = s0;
    }
}

/* rows rows of y = x @ kernel + bias, any storage. */
static KL_ALWAYS_INLINE void kl_dense_rows_stored(float *KL_RESTRICT out, const float *KL_RESTRICT inp,
                                                  const void *KL_RESTRICT kernel, int storage,
                                                  const float *KL_RESTRICT scale, const float *KL_RESTRICT bias,
                                                  int rows, int n_in, int n_out)
{
    for (int r = 0; r < rows; r++) {
        float *KL_RESTRICT y = out + (size_t)r * (size_t)n_out; /* (n_out,) */
        kl_dense_row_stored(y, inp + (size_t)r * (size_t)n_in, (const unsigned char *)kernel, storage, scale,
                            n_in, n_out);
        if (bias != NULL) {
            for (int j = 0; j < n_out; j++) {
                y[j] = y[j] + KL_LOAD_F32(bias + j);
            }
        }
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
    const float k0 = 1.0f, k1 = 1.0f, k2 = 1.0f, k3 = 1.0f, k4 = 1.0f, k5 = 1.0f, k6 = 1.0f, k7 = 1.0f; /* no scales */
    for (; j + 16 <= n_out; j += 16) { /* 4 rows x 16 outputs: each weight loaded once for 4 rows */
        KL_DENSE_DECLARE8(a); KL_DENSE_DECLARE8(b); KL_DENSE_DECLARE8(c); KL_DENSE_DECLARE8(d);
        KL_DENSE_DECLARE8(e); KL_DENSE_DECLARE8(f); KL_DENSE_DECLARE8(g); KL_DENSE_DECLARE8(h);
        for (int i = 0; i < n_in; i++) {
            const unsigned char *KL_RESTRICT w = (const unsigned char *)(kernel + (size_t)i * on + (size_t)j); /* (16,) */
            const unsigned char *KL_RESTRICT w8 = w + 8 * sizeof(float);
            const float x0 = x[i], x1 = x[in + (size_t)i], x2 = x[2 * in + (size_t)i], x3 = x[3 * in + (size_t)i];
            KL_DENSE_STEP8(a, k, x0, w, KL_STORED_F32); KL_DENSE_STEP8(b, k, x0, w8, KL_STORED_F32);
            KL_DENSE_STEP8(c, k, x1, w, KL_STORED_F32); KL_DENSE_STEP8(d, k, x1, w8, KL_STORED_F32);
            KL_DENSE_STEP8(e, k, x2, w, KL_STORED_F32); KL_DENSE_STEP8(f, k, x2, w8, KL_STORED_F32);
            KL_DENSE_STEP8(g, k, x3, w, KL_STORED_F32); KL_DENSE_STEP8(h, k, x3, w8, KL_STORED_F32);
        }
        KL_DENSE_STORE8(y + j, a); KL_DENSE_STORE8(y + j + 8, b);
        KL_DENSE_STORE8(y + on + j, c); KL_DENSE_STORE8(y + on + j + 8, d);
        KL_DENSE_STORE8(y + 2 * on + j, e); KL_DENSE_STORE8(y + 2 * on + j + 8, f);
        KL_DENSE_STORE8(y + 3 * on + j, g); KL_DENSE_STORE8(y + 3 * on + j + 8, h);
    }
    for (; j + 8 <= n_out; j += 8) {
        KL_DENSE_DECLARE8(a); KL_DENSE_DECLARE8(b); KL_DENSE_DECLARE8(c); KL_DENSE_DECLARE8(d);
        for (int i = 0; i < n_in; i++) {
            const unsigned char *KL_RESTRICT w = (const unsigned char *)(kernel + (size_t)i * on + (size_t)j); /* (8,) */
            KL_DENSE_STEP8(a, k, x[i], w, KL_STORED_F32);
            KL_DENSE_STEP8(b, k, x[in + (size_t)i], w, KL_STORED_F32);
            KL_DENSE_STEP8(c, k, x[2 * in + (size_t)i], w, KL_STORED_F32);
            KL_DENSE_STEP8(d, k, x[3 * in + (size_t)i], w, KL_STORED_F32);
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

/* ---- many rows on AVX-512: a 12 x 32 block of sums in 24 vector registers ----------------------
 *
 * NAME_predict_batch's chunks of KL_BATCH_ROWS samples on x86-64 cores with AVX-512F (chosen at run
 * time with __builtin_cpu_supports, so the header still builds with plain -O2 and runs anywhere).
 * Twelve rows times 32 outputs keep 24 zmm sums, which covers the FMA latency on both FMA units
 * (the 4 x 16 block above keeps 4 and is latency bound); per kernel row two weight loads, twelve
 * input broadcasts and 24 FMAs. The kernel is read in place, Keras's (n_in, n_out) layout, in
 * stretches of KL_DENSE_WIDE_KC kernel rows: a 4 KiB stride (n_out = 1024) maps every kernel row
 * of a longer stretch to the same L1 set. The sums of a stretch go to out and come back for the
 * next one: a float stored and reloaded is the same float, so each output is still
 * s = fmaf(x[i], w[i][j], s) for i = 0 .. n_in-1 from 0.0f (_mm512_fmadd_ps rounds once, as fmaf),
 * then + bias: kl_dense_forward_naive's bits. Outputs past a multiple of 32 are masked lanes. */
#if !defined(KERASLESS_NO_TARGET_CLONES) && defined(__x86_64__) && \
    ((defined(__GNUC__) && __GNUC__ >= 8) || defined(__clang__)) && !defined(__INTEL_COMPILER)
#include <immintrin.h>
#define KL_DENSE_WIDE 1
#define KL_DENSE_WIDE_KC 64 /* kernel rows per stretch */
#define KL_DENSE_WIDE_ROWS 12   /* rows of a block (the switch below has a case for each height) */
#define KL_DENSE_WIDE_VECTORS 2 /* 16-float vectors of outputs per block row */

#define KL_DENSE_WIDE_TARGET __attribute__((target("avx512f")))
#if defined(__clang__)
#define KL_DENSE_UNROLL _Pragma("unroll")
#else
#define KL_DENSE_UNROLL _Pragma("GCC unroll 16")
#endif
static KL_ALWAYS_INLINE KL_DENSE_WIDE_TARGET void kl_dense_wide_block(
    float *KL_RESTRICT y, const float *KL_RESTRICT x, const float *KL_RESTRICT w, int rows, size_t n_in,
    size_t n_out, int steps, const __mmask16 *KL_RESTRICT mask, int resume)
{
    __m512 s[KL_DENSE_WIDE_ROWS][KL_DENSE_WIDE_VECTORS];
    KL_DENSE_UNROLL
    for (int r = 0; r < rows; r++) { /* rows is a constant in every caller: unrolled, sums in registers */
        KL_DENSE_UNROLL
        for (int v = 0; v < KL_DENSE_WIDE_VECTORS; v++) {
            s[r][v] = resume ? _mm512_maskz_loadu_ps(mask[v], y + (size_t)r * n_out + 16 * v) : _mm512_setzero_ps();
        }
    }
    for (int i = 0; i < steps; i++) {
        __m512 k[KL_DENSE_WIDE_VECTORS];
        KL_DENSE_UNROLL
        for (int v = 0; v < KL_DENSE_WIDE_VECTORS; v++) {
            k[v] = _mm512_maskz_loadu_ps(mask[v], w + (size_t)i * n_out + 16 * v);
        }
        KL_DENSE_UNROLL
        for (int r = 0; r < rows; r++) {
            const __m512 e = _mm512_set1_ps(x[(size_t)r * n_in + (size_t)i]);
            KL_DENSE_UNROLL
            for (int v = 0; v < KL_DENSE_WIDE_VECTORS; v++) {
                s[r][v] = _mm512_fmadd_ps(e, k[v], s[r][v]);
            }
        }
    }
    KL_DENSE_UNROLL
    for (int r = 0; r < rows; r++) {
        KL_DENSE_UNROLL
        for (int v = 0; v < KL_DENSE_WIDE_VECTORS; v++) {
            _mm512_mask_storeu_ps(y + (size_t)r * n_out + 16 * v, mask[v], s[r][v]);
        }
    }
}

static KL_DENSE_WIDE_TARGET void kl_dense_forward_wide(float *KL_RESTRICT out, const float *KL_RESTRICT inp,
                                                      const float *KL_RESTRICT kernel, const float *KL_RESTRICT bias,
                                                      int rows, int n_in, int n_out)
{
    const size_t in = (size_t)n_in, on = (size_t)n_out;
    const int block = 16 * KL_DENSE_WIDE_VECTORS; /* outputs per block */
    for (int i0 = 0; i0 < n_in; i0 += KL_DENSE_WIDE_KC) { /* a stretch of kernel rows */
        const int steps = n_in - i0 < KL_DENSE_WIDE_KC ? n_in - i0 : KL_DENSE_WIDE_KC;
        for (int j = 0; j < n_out; j += block) { /* a block of outputs, the tail masked */
            __mmask16 mask[KL_DENSE_WIDE_VECTORS];
            for (int v = 0; v < KL_DENSE_WIDE_VECTORS; v++) {
                const int left = n_out - j - 16 * v; /* outputs from this vector on */
                mask[v] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
            }
            const float *KL_RESTRICT w = kernel + (size_t)i0 * on + (size_t)j;
            for (int r = 0; r < rows; r += KL_DENSE_WIDE_ROWS) {
                float *KL_RESTRICT y = out + (size_t)r * on + (size_t)j;
                const float *KL_RESTRICT x = inp + (size_t)r * in + (size_t)i0;
                switch (rows - r < KL_DENSE_WIDE_ROWS ? rows - r : KL_DENSE_WIDE_ROWS) { /* one copy per block height */
#define KL_DENSE_WIDE_CASE(n) case n: kl_dense_wide_block(y, x, w, n, in, on, steps, mask, i0 > 0); break;
                KL_DENSE_WIDE_CASE(1) KL_DENSE_WIDE_CASE(2) KL_DENSE_WIDE_CASE(3) KL_DENSE_WIDE_CASE(4)
                KL_DENSE_WIDE_CASE(5) KL_DENSE_WIDE_CASE(6) KL_DENSE_WIDE_CASE(7) KL_DENSE_WIDE_CASE(8)
                KL_DENSE_WIDE_CASE(9) KL_DENSE_WIDE_CASE(10) KL_DENSE_WIDE_CASE(11) default: KL_DENSE_WIDE_CASE(12)
#undef KL_DENSE_WIDE_CASE
                }
            }
        }
    }
    if (bias != NULL) {
        for (int r = 0; r < rows; r++) {
            float *KL_RESTRICT y = out + (size_t)r * on; /* (n_out,) */
            for (int j = 0; j < n_out; j++) {
                y[j] = y[j] + bias[j];
            }
        }
    }
}
#endif

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
        kl_dense_row_stored(out + (size_t)r * on, inp + (size_t)r * in, (const unsigned char *)kernel,
                            KL_STORED_F32, NULL, n_in, n_out);
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
    kl_dense_rows_stored(out, inp, kernel, KL_STORED_F32, NULL, bias, 1, n_in, n_out);
}

/* Dense with an int8 kernel: weight (float)q[i][j] * scale[j] (one float32 rounding, as runtime_py
 * decodes it), then the documented order, so the sums are kl_dense_forward_naive's on the decoded
 * kernel, bit for bit. The loop is the float32 one (kl_dense_row_stored). */
KL_DENSE_CLONES
static inline void kl_dense_int8_forward(float *KL_RESTRICT out,                /* (rows, n_out) */
                                         const float *KL_RESTRICT inp,          /* (rows, n_in) */
                                         const signed char *KL_RESTRICT kernel, /* (n_in, n_out): q in -127 .. 127 */
                                         const float *KL_RESTRICT scale,        /* (n_out,) */
                                         const float *KL_RESTRICT bias,         /* (n_out,), or NULL */
                                         int rows, int n_in, int n_out)
{
    kl_dense_rows_stored(out, inp, kernel, KL_STORED_I8, scale, bias, rows, n_in, n_out);
}

/* Dense with a float16 kernel (IEEE binary16 bits): the same loop on the decoded weights. */
KL_DENSE_CLONES
static inline void kl_dense_float16_forward(float *KL_RESTRICT out,                   /* (rows, n_out) */
                                            const float *KL_RESTRICT inp,             /* (rows, n_in) */
                                            const unsigned short *KL_RESTRICT kernel, /* (n_in, n_out): binary16 */
                                            const float *KL_RESTRICT bias,            /* (n_out,), or NULL */
                                            int rows, int n_in, int n_out)
{
    kl_dense_rows_stored(out, inp, kernel, KL_STORED_F16, NULL, bias, rows, n_in, n_out);
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
#if defined(KL_DENSE_WIDE)
    } else if (rows >= 4 && __builtin_cpu_supports("avx512f")) {
        kl_dense_forward_wide(out, inp, kernel, bias, rows, n_in, n_out);
#endif
    } else {
        kl_dense_forward_blocked(out, inp, kernel, bias, rows, n_in, n_out);
    }
}

#endif /* KERASLESS_KERNEL_DENSE */
