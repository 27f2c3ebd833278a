/* prelu.h: Keras's PReLU, y = relu(x) + (-alpha) * relu(-x), with one alpha per value.
 *
 * Computed term by term as Keras does (not as x > 0 ? x : alpha * x): relu keeps NaN, so a
 * NaN input gives NaN, and x = +-inf gives inf + (-alpha) * 0 = inf, -inf gives -alpha * inf.
 * shared_axes are broadcast at export: alpha has the input's full per-sample shape.
 * out == inp is allowed: each value is read before it is overwritten.
 */
#ifndef KERASLESS_KERNEL_PRELU
#define KERASLESS_KERNEL_PRELU

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

static inline float kl_prelu_relu(float x)
{
    return x > 0.0f ? x : (x == x ? 0.0f : x); /* x != x only for NaN */
}

static inline void kl_prelu_forward(float *out,         /* (size,) */
                                    const float *inp,   /* (size,) */
                                    const float *alpha, /* (size,) */
                                    int size)
{
    for (int k = 0; k < size; k++) {
        const float positive = kl_prelu_relu(inp[k]);
        const float negative = (-KL_LOAD_F32(alpha + k)) * kl_prelu_relu(-inp[k]);
        out[k] = positive + negative;
    }
}

#endif /* KERASLESS_KERNEL_PRELU */
