/* backward/scale_shift.h: the gradient of scale_shift.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = x * scale + shift per last-axis channel: grad_in += grad_out * scale.
 */
#ifndef KERASLESS_KERNEL_SCALE_SHIFT_BACKWARD
#define KERASLESS_KERNEL_SCALE_SHIFT_BACKWARD

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

static inline void kl_scale_shift_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *scale,    /* (n,) */
                                           int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        grad_in[k] += grad_out[k] * KL_LOAD_F32(scale + k % n);
    }
}

#endif /* KERASLESS_KERNEL_SCALE_SHIFT_BACKWARD */
