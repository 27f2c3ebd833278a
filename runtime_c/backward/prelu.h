/* backward/prelu.h: the gradient of prelu.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = relu(x) + (-alpha) * relu(-x), through two ReluGrads: grad_out where x > 0, alpha * grad_out
 * where x < 0, 0 at 0 and for NaN.
 */
#ifndef KERASLESS_KERNEL_PRELU_BACKWARD
#define KERASLESS_KERNEL_PRELU_BACKWARD

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

static inline void kl_prelu_backward(float *grad_in,        /* (size,): added to */
                                     const float *grad_out, /* (size,) */
                                     const float *inp,      /* (size,): the forward input */
                                     const float *alpha,    /* (size,) */
                                     int size)
{
    for (int k = 0; k < size; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        grad_in[k] += (x > 0.0f ? g : 0.0f) + (-x > 0.0f ? KL_LOAD_F32(alpha + k) * g : 0.0f);
    }
}

#endif /* KERASLESS_KERNEL_PRELU_BACKWARD */
